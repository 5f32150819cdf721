//! Rask's plan nodes on the wire: what a client, the scheduler and every worker use to pass
//! Rask's own tables, operators and functions through Ballista.
//!
//! Ballista ships logical plans (client → scheduler) and physical plans (scheduler → workers)
//! as protobuf; DataFusion's nodes serialise themselves, and anything else goes through an
//! extension codec. [`RaskCodec`] is that codec on both sides: each Rask node kind is one
//! [`NodeCodec`], found by name, and whatever no `NodeCodec` claims goes on to Ballista's own
//! codecs (shuffle readers and writers, file formats, DataFusion's built-in nodes).
//!
//! A node encoded by Rask travels as `MAGIC`, the node codec's name, and its payload; a
//! buffer without the magic prefix was written by Ballista's codec and goes back to it.
//!
//! # Adding a node
//!
//! Implement [`NodeCodec`] for the new node (a logical extension node, a table provider, a
//! physical operator, or several of these), returning `Ok(None)` from the `encode_*` methods
//! for anything it does not own, and add it to [`RaskCodec::default`]. A node that refers to
//! user code must carry a *name* (for instance a partition function registered under that
//! name on every process) and look it up again when decoding; closures cannot cross
//! processes, and such a node should fail to encode with a message saying so.

use std::fmt::Debug;
use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::convert::{fb_to_schema, IpcSchemaEncoder};
use datafusion::arrow::ipc::root_as_schema;
use datafusion::catalog::TableProvider;
use datafusion::common::{plan_datafusion_err, plan_err, Result, TableReference};
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, LogicalPlanBuilder, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::bytes::{
    logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use rask_planner::listing::BlockTable;
use rask_planner::nodes::{map_partitions, MapPartitions};
use rask_planner::operators::{MapPartitionsExec, QuoteWatchExec, TimeseriesExec};
use rask_planner::partitions::{registered_partition_function, PartitionFunction};
use rask_planner::timeseries::{TimeseriesParams, TimeseriesTable};
use serde_json::{json, Value};

/// Marks a buffer written by [`RaskCodec`] rather than by Ballista's codecs.
const MAGIC: &[u8] = b"rask\x01";

/// Encodes and decodes one kind of Rask node. Every method has a default that owns nothing,
/// so a node codec implements only the kinds of node it has.
pub trait NodeCodec: Debug + Send + Sync {
    /// The name the node travels under; unique among the codecs of a [`RaskCodec`].
    fn name(&self) -> &'static str;

    /// The payload of a logical extension node, if this codec owns it.
    fn encode_logical(&self, _node: &Extension, _codec: &RaskCodec) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// The logical extension node of a payload written by
    /// [`encode_logical`](Self::encode_logical).
    fn decode_logical(
        &self,
        _payload: &[u8],
        _inputs: &[LogicalPlan],
        _ctx: &TaskContext,
        _codec: &RaskCodec,
    ) -> Result<Extension> {
        plan_err!("{} has no logical node", self.name())
    }

    /// The payload of a table, if this codec owns it.
    fn encode_table(
        &self,
        _table: &dyn TableProvider,
        _codec: &RaskCodec,
    ) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// The table of a payload written by [`encode_table`](Self::encode_table).
    fn decode_table(
        &self,
        _payload: &[u8],
        _ctx: &TaskContext,
        _codec: &RaskCodec,
    ) -> Result<Arc<dyn TableProvider>> {
        plan_err!("{} has no table", self.name())
    }

    /// The payload of a physical operator, if this codec owns it.
    fn encode_physical(&self, _plan: &dyn ExecutionPlan) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// The operator of a payload written by [`encode_physical`](Self::encode_physical), over
    /// its already decoded `inputs`.
    fn decode_physical(
        &self,
        _payload: &[u8],
        _inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan_err!("{} has no physical operator", self.name())
    }

    /// The scalar functions this codec carries by name, for plans that call them.
    fn functions(&self) -> Vec<ScalarUDF> {
        vec![]
    }
}

/// A node codec and the payload it wrote.
type Opened<'c, 'b> = (&'c Arc<dyn NodeCodec>, &'b [u8]);

/// The codec of Rask's nodes; see the module docs. Used for both logical and physical plans.
#[derive(Debug)]
pub struct RaskCodec {
    nodes: Vec<Arc<dyn NodeCodec>>,
    logical: BallistaLogicalExtensionCodec,
    physical: BallistaPhysicalExtensionCodec,
}

impl Default for RaskCodec {
    fn default() -> Self {
        RaskCodec {
            nodes: vec![
                Arc::new(TimeseriesCodec),
                Arc::new(BlockTableCodec),
                Arc::new(PlanFunctionsCodec),
                Arc::new(MapPartitionsCodec),
                Arc::new(QuoteWatchCodec),
            ],
            logical: BallistaLogicalExtensionCodec::default(),
            physical: BallistaPhysicalExtensionCodec::default(),
        }
    }
}

impl RaskCodec {
    /// This codec and `node` besides; a node codec of the same name is replaced.
    pub fn with(mut self, node: Arc<dyn NodeCodec>) -> Self {
        self.nodes.retain(|n| n.name() != node.name());
        self.nodes.push(node);
        self
    }

    fn envelope(name: &str, payload: Vec<u8>, buf: &mut Vec<u8>) {
        buf.extend_from_slice(MAGIC);
        buf.push(name.len() as u8);
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(&payload);
    }

    /// The node codec and payload of a buffer written by Rask, `None` for Ballista's.
    fn open<'a>(&self, buf: &'a [u8]) -> Result<Option<Opened<'_, 'a>>> {
        let Some(rest) = buf.strip_prefix(MAGIC) else {
            return Ok(None);
        };
        let (&len, rest) = rest
            .split_first()
            .ok_or_else(|| plan_datafusion_err!("truncated Rask plan node"))?;
        let (name, payload) = rest
            .split_at_checked(len as usize)
            .ok_or_else(|| plan_datafusion_err!("truncated Rask plan node"))?;
        let name = std::str::from_utf8(name)
            .map_err(|_| plan_datafusion_err!("malformed Rask plan node name"))?;
        let node = self.nodes.iter().find(|n| n.name() == name).ok_or_else(|| {
            plan_datafusion_err!(
                "this process does not know the plan node '{name}': are the client, the scheduler and the workers the same version of Rask?"
            )
        })?;
        Ok(Some((node, payload)))
    }

    fn encode_first(
        &self,
        buf: &mut Vec<u8>,
        mut encode: impl FnMut(&dyn NodeCodec) -> Result<Option<Vec<u8>>>,
    ) -> Result<bool> {
        for node in &self.nodes {
            if let Some(payload) = encode(node.as_ref())? {
                Self::envelope(node.name(), payload, buf);
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn function(&self, name: &str) -> Option<ScalarUDF> {
        self.nodes
            .iter()
            .flat_map(|n| n.functions())
            .find(|f| f.name() == name)
    }

    /// Rask's function `name`, or what `otherwise` (DataFusion's codec) decodes.
    fn decode_udf(
        &self,
        name: &str,
        otherwise: impl FnOnce() -> Result<Arc<ScalarUDF>>,
    ) -> Result<Arc<ScalarUDF>> {
        match self.function(name) {
            Some(function) => Ok(Arc::new(function)),
            None => otherwise(),
        }
    }
}

impl LogicalExtensionCodec for RaskCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        match self.open(buf)? {
            Some((node, payload)) => node.decode_logical(payload, inputs, ctx, self),
            None => self.logical.try_decode(buf, inputs, ctx),
        }
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        if self.encode_first(buf, |codec| codec.encode_logical(node, self))? {
            return Ok(());
        }
        self.logical.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match self.open(buf)? {
            Some((node, payload)) => node.decode_table(payload, ctx, self),
            None => self
                .logical
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if self.encode_first(buf, |codec| codec.encode_table(node.as_ref(), self))? {
            return Ok(());
        }
        self.logical.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.logical.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> Result<()> {
        self.logical.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.decode_udf(name, || self.logical.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_function(self, node, buf)
    }
}

impl PhysicalExtensionCodec for RaskCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match self.open(buf)? {
            Some((node, payload)) => node.decode_physical(payload, inputs, ctx),
            None => self.physical.try_decode(buf, inputs, ctx, converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if self.encode_first(buf, |codec| codec.encode_physical(node.as_ref()))? {
            return Ok(());
        }
        self.physical.try_encode(node, buf, converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.decode_udf(name, || self.physical.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_function(self, node, buf)
    }
}

/// DataFusion looks a function up in the receiver's registry unless the sender wrote a
/// definition; Rask's functions are not in Ballista's registry, so a marker is written for
/// them, which sends the receiver to [`RaskCodec`]'s `try_decode_udf`.
fn encode_function(codec: &RaskCodec, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
    if codec.function(node.name()).is_some() {
        buf.extend_from_slice(MAGIC);
    }
    Ok(())
}

fn json_payload(value: Value) -> Result<Option<Vec<u8>>> {
    Ok(Some(serde_json::to_vec(&value).map_err(|e| {
        plan_datafusion_err!("cannot encode a plan node: {e}")
    })?))
}

fn parse_payload(payload: &[u8]) -> Result<Value> {
    serde_json::from_slice(payload).map_err(|e| plan_datafusion_err!("malformed plan node: {e}"))
}

fn field<'a>(value: &'a Value, name: &str) -> Result<&'a Value> {
    value
        .get(name)
        .ok_or_else(|| plan_datafusion_err!("malformed plan node: no '{name}'"))
}

fn int(value: &Value, name: &str) -> Result<i64> {
    field(value, name)?
        .as_i64()
        .ok_or_else(|| plan_datafusion_err!("malformed plan node: '{name}' is not an integer"))
}

fn text(value: &Value, name: &str) -> Result<String> {
    field(value, name)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| plan_datafusion_err!("malformed plan node: '{name}' is not a string"))
}

fn params_to_json(params: &TimeseriesParams) -> Value {
    json!({
        "start": params.start,
        "end": params.end,
        "freq": params.freq,
        "partition_freq": params.partition_freq,
        "seed": params.seed,
        "freq_text": params.freq_text,
        "partition_freq_text": params.partition_freq_text,
    })
}

fn params_from_json(value: &Value) -> Result<TimeseriesParams> {
    Ok(TimeseriesParams {
        start: int(value, "start")?,
        end: int(value, "end")?,
        freq: int(value, "freq")?,
        partition_freq: int(value, "partition_freq")?,
        seed: field(value, "seed")?
            .as_u64()
            .ok_or_else(|| plan_datafusion_err!("malformed plan node: 'seed'"))?,
        freq_text: text(value, "freq_text")?,
        partition_freq_text: text(value, "partition_freq_text")?,
    })
}

/// The Dask partitions `[start, end)` a `timeseries()` node generates.
fn parts_from_json(value: &Value) -> Result<std::ops::Range<usize>> {
    let bounds = field(value, "parts")?
        .as_array()
        .and_then(|b| Some(b.first()?.as_u64()? as usize..b.get(1)?.as_u64()? as usize))
        .ok_or_else(|| plan_datafusion_err!("malformed plan node: 'parts'"))?;
    Ok(bounds)
}

/// `timeseries()`: its table (client → scheduler) and its generator (scheduler → workers)
/// travel as the dataset's parameters.
///
/// On a cluster the rows are generated in one stream, by one task: Ballista gives each task
/// its share of a stage's partitions by rewriting the leaves it knows (file and memory
/// scans), and a leaf it does not know would be run whole by every task, duplicating rows.
/// The operators after the scan still run in parallel on every worker.
#[derive(Debug)]
struct TimeseriesCodec;

impl NodeCodec for TimeseriesCodec {
    fn name(&self) -> &'static str {
        "timeseries"
    }

    fn encode_table(&self, table: &dyn TableProvider, _: &RaskCodec) -> Result<Option<Vec<u8>>> {
        match table.downcast_ref::<TimeseriesTable>() {
            Some(table) => json_payload(json!({
                "params": params_to_json(table.params()),
                "parts": [table.parts().start, table.parts().end],
            })),
            None => Ok(None),
        }
    }

    fn decode_table(
        &self,
        payload: &[u8],
        _: &TaskContext,
        _: &RaskCodec,
    ) -> Result<Arc<dyn TableProvider>> {
        let value = parse_payload(payload)?;
        let params = params_from_json(field(&value, "params")?)?;
        Ok(Arc::new(
            TimeseriesTable::new(params)
                .with_parts(parts_from_json(&value)?)
                .with_max_streams(1),
        ))
    }

    fn encode_physical(&self, plan: &dyn ExecutionPlan) -> Result<Option<Vec<u8>>> {
        match plan.downcast_ref::<TimeseriesExec>() {
            Some(exec) => json_payload(json!({
                "params": params_to_json(exec.params()),
                "parts": [exec.parts().start, exec.parts().end],
                "columns": exec.columns(),
                "streams": exec.stream_count(),
            })),
            None => Ok(None),
        }
    }

    fn decode_physical(
        &self,
        payload: &[u8],
        _: &[Arc<dyn ExecutionPlan>],
        _: &TaskContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let value = parse_payload(payload)?;
        let columns = field(&value, "columns")?
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c.as_u64().map(|c| c as usize))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| plan_datafusion_err!("malformed plan node: 'columns'"))?;
        Ok(Arc::new(TimeseriesExec::new(
            params_from_json(field(&value, "params")?)?,
            parts_from_json(&value)?,
            columns,
            int(&value, "streams")? as usize,
        )?))
    }
}

/// The watch for quotes over CSV scans: it has no payload, its scans say what to watch.
#[derive(Debug)]
struct QuoteWatchCodec;

impl NodeCodec for QuoteWatchCodec {
    fn name(&self) -> &'static str {
        "quote_watch"
    }

    fn encode_physical(&self, plan: &dyn ExecutionPlan) -> Result<Option<Vec<u8>>> {
        Ok(plan.downcast_ref::<QuoteWatchExec>().map(|_| Vec::new()))
    }

    fn decode_physical(
        &self,
        _: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        _: &TaskContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = inputs else {
            return plan_err!("malformed quote_watch node: {} inputs", inputs.len());
        };
        Ok(Arc::new(QuoteWatchExec::new(Arc::clone(input))))
    }
}

/// `map_partitions`: the function travels by the name it is registered under, with the
/// output schema; every process that runs it must have registered the same name.
#[derive(Debug)]
struct MapPartitionsCodec;

impl MapPartitionsCodec {
    fn encode(function: &PartitionFunction, schema: &Schema) -> Result<Option<Vec<u8>>> {
        let name = function.name().as_bytes();
        let length = u16::try_from(name.len())
            .map_err(|_| plan_datafusion_err!("partition function name too long"))?;
        let mut payload = length.to_le_bytes().to_vec();
        payload.extend_from_slice(name);
        payload.extend_from_slice(IpcSchemaEncoder::new().schema_to_fb(schema).finished_data());
        Ok(Some(payload))
    }

    /// The function and schema of `payload`; `resolve` requires the function to be
    /// registered here (a worker runs it), otherwise a stand-in keeps its name.
    fn decode(payload: &[u8], resolve: bool) -> Result<(PartitionFunction, SchemaRef)> {
        let malformed = || plan_datafusion_err!("malformed map_partitions node");
        let (length, rest) = payload.split_at_checked(2).ok_or_else(malformed)?;
        let length = u16::from_le_bytes([length[0], length[1]]) as usize;
        let (name, schema) = rest.split_at_checked(length).ok_or_else(malformed)?;
        let name = std::str::from_utf8(name).map_err(|_| malformed())?;
        let function = match registered_partition_function(name) {
            Some(function) => function,
            None if !resolve => PartitionFunction::unresolved(name),
            None => {
                return plan_err!(
                    "this worker has no partition function registered as '{name}': register it on the client and on every worker"
                )
            }
        };
        let schema = root_as_schema(schema)
            .map(fb_to_schema)
            .map_err(|_| malformed())?;
        Ok((function, Arc::new(schema)))
    }
}

impl NodeCodec for MapPartitionsCodec {
    fn name(&self) -> &'static str {
        "map_partitions"
    }

    fn encode_logical(&self, node: &Extension, _: &RaskCodec) -> Result<Option<Vec<u8>>> {
        let Some(map) = node.node.as_any().downcast_ref::<MapPartitions>() else {
            return Ok(None);
        };
        // The client is the last process that holds the user's closures.
        if !map.func().is_registered() {
            return plan_err!(
                "map_partitions '{}' is a closure, which cannot leave this process; register it with Session::register_partition_function here and on every worker, and use map_partitions_by_name",
                map.func().name()
            );
        }
        Self::encode(map.func(), map.schema().as_arrow())
    }

    fn decode_logical(
        &self,
        payload: &[u8],
        inputs: &[LogicalPlan],
        _: &TaskContext,
        _: &RaskCodec,
    ) -> Result<Extension> {
        let (function, schema) = Self::decode(payload, false)?;
        let input = inputs
            .first()
            .cloned()
            .ok_or_else(|| plan_datafusion_err!("map_partitions node without input"))?;
        match map_partitions(input, function, Some(schema))? {
            LogicalPlan::Extension(extension) => Ok(extension),
            _ => plan_err!("map_partitions did not plan as an extension node"),
        }
    }

    fn encode_physical(&self, plan: &dyn ExecutionPlan) -> Result<Option<Vec<u8>>> {
        match plan.downcast_ref::<MapPartitionsExec>() {
            Some(exec) => Self::encode(exec.func(), &exec.schema()),
            None => Ok(None),
        }
    }

    fn decode_physical(
        &self,
        payload: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        _: &TaskContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let (function, schema) = Self::decode(payload, true)?;
        let input = inputs
            .first()
            .cloned()
            .ok_or_else(|| plan_datafusion_err!("map_partitions operator without input"))?;
        Ok(Arc::new(MapPartitionsExec::with_function(
            input, function, schema,
        )))
    }
}

/// Files read in Dask's blocks: the file table travels as a scan plan, which DataFusion
/// serialises, and the blocksize beside it.
#[derive(Debug)]
struct BlockTableCodec;

impl NodeCodec for BlockTableCodec {
    fn name(&self) -> &'static str {
        "blocks"
    }

    fn encode_table(
        &self,
        table: &dyn TableProvider,
        codec: &RaskCodec,
    ) -> Result<Option<Vec<u8>>> {
        let Some(table) = table.downcast_ref::<BlockTable>() else {
            return Ok(None);
        };
        let scan =
            LogicalPlanBuilder::scan("blocks", provider_as_source(table.inner().clone()), None)?
                .build()?;
        let mut payload = table.blocksize().to_le_bytes().to_vec();
        payload.extend_from_slice(&logical_plan_to_bytes_with_extension_codec(&scan, codec)?);
        Ok(Some(payload))
    }

    fn decode_table(
        &self,
        payload: &[u8],
        ctx: &TaskContext,
        codec: &RaskCodec,
    ) -> Result<Arc<dyn TableProvider>> {
        let (blocksize, plan) = payload
            .split_first_chunk::<8>()
            .ok_or_else(|| plan_datafusion_err!("malformed plan node: blocks"))?;
        let LogicalPlan::TableScan(scan) =
            logical_plan_from_bytes_with_extension_codec(plan, ctx, codec)?
        else {
            return plan_err!("malformed plan node: blocks is not a scan");
        };
        Ok(Arc::new(BlockTable::new(
            source_as_provider(&scan.source)?,
            u64::from_le_bytes(*blocksize),
        )?))
    }
}

/// The functions Rask's rewrites put in plans (`sample()`'s row hash, checked arithmetic..),
/// which the receiver knows by name.
#[derive(Debug)]
struct PlanFunctionsCodec;

impl NodeCodec for PlanFunctionsCodec {
    fn name(&self) -> &'static str {
        "rask_functions"
    }

    fn functions(&self) -> Vec<ScalarUDF> {
        rask_planner::plan_functions()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::SessionContext;
    use datafusion_proto::bytes::{
        physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
    };

    #[test]
    fn timeseries_round_trips_in_both_plans() {
        let codec = RaskCodec::default();
        let ctx = SessionContext::new();
        let params = TimeseriesParams::new(
            Some("2000-01-01"),
            Some("2000-01-03"),
            Some("1h"),
            None,
            Some(7),
        )
        .unwrap();

        let scan = LogicalPlanBuilder::scan(
            "timeseries",
            provider_as_source(Arc::new(TimeseriesTable::new(params.clone()))),
            None,
        )
        .unwrap()
        .build()
        .unwrap();
        let bytes = logical_plan_to_bytes_with_extension_codec(&scan, &codec).unwrap();
        let back =
            logical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec).unwrap();
        let LogicalPlan::TableScan(back) = back else {
            panic!("not a scan: {back}")
        };
        let table = source_as_provider(&back.source).unwrap();
        let table = table.downcast_ref::<TimeseriesTable>().unwrap();
        assert_eq!(table.params(), &params);

        let exec: Arc<dyn ExecutionPlan> =
            Arc::new(TimeseriesExec::new(params, 1..2, vec![2, 3], 2).unwrap());
        let bytes = physical_plan_to_bytes_with_extension_codec(exec.clone(), &codec).unwrap();
        let back =
            physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec).unwrap();
        assert_eq!(
            displayable(back.as_ref()).one_line().to_string(),
            displayable(exec.as_ref()).one_line().to_string()
        );
    }

    #[test]
    fn unknown_node_names_are_explained() {
        let codec = RaskCodec::default();
        let mut buf = Vec::new();
        RaskCodec::envelope("map_partitions_v9", vec![], &mut buf);
        let err = codec.open(&buf).unwrap_err().to_string();
        assert!(
            err.contains("does not know the plan node 'map_partitions_v9'"),
            "{err}"
        );
    }
}
