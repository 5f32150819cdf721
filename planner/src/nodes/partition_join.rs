//! [`PartitionJoin`]: a hash join of one partition of each side, planned without
//! repartitioning either (see [`crate::aligned_join`] for when a merge is planned so).

use std::fmt;
use std::sync::Arc;

use datafusion::common::{internal_err, Column, DFSchemaRef, JoinType, NullEquality, Result};
use datafusion::logical_expr::{
    build_join_schema, Expr, Extension, LogicalPlan, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::expressions::Column as PhysicalColumn;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::ExecutionPlan;

/// A hash join of two single partitions on equal keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionJoin {
    left: LogicalPlan,
    right: LogicalPlan,
    on: Vec<(Column, Column)>,
    join_type: JoinType,
    schema: DFSchemaRef,
}

impl PartialOrd for PartitionJoin {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (&self.left, &self.right).partial_cmp(&(&other.left, &other.right))
    }
}

/// `left` joined with `right` where each `on` pair is equal.
pub fn partition_join(
    left: LogicalPlan,
    right: LogicalPlan,
    on: Vec<(Column, Column)>,
    join_type: JoinType,
) -> Result<LogicalPlan> {
    let schema = Arc::new(build_join_schema(
        left.schema(),
        right.schema(),
        &join_type,
    )?);
    Ok(LogicalPlan::Extension(Extension {
        node: Arc::new(PartitionJoin {
            left,
            right,
            on,
            join_type,
            schema,
        }),
    }))
}

impl UserDefinedLogicalNodeCore for PartitionJoin {
    fn name(&self) -> &str {
        "PartitionJoin"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.left, &self.right]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let keys: Vec<String> = self.on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
        write!(f, "PartitionJoin: {} {}", self.join_type, keys.join(", "))
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let Ok([left, right]) = <[LogicalPlan; 2]>::try_from(inputs) else {
            return internal_err!("PartitionJoin takes two inputs");
        };
        Ok(PartitionJoin {
            left,
            right,
            on: self.on.clone(),
            join_type: self.join_type,
            schema: Arc::clone(&self.schema),
        })
    }
}

impl PartitionJoin {
    /// The same join as an ordinary one, which DataFusion plans as it likes.
    pub fn as_join(&self) -> Result<LogicalPlan> {
        let (left, right): (Vec<Column>, Vec<Column>) = self.on.iter().cloned().unzip();
        datafusion::logical_expr::LogicalPlanBuilder::from(self.left.clone())
            .join(self.right.clone(), self.join_type, (left, right), None)?
            .build()
    }

    /// DataFusion's hash join over the planned sides, building on the whole left side and
    /// streaming the right one's partitions: nothing is repartitioned.
    pub fn plan(
        &self,
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let on = self
            .on
            .iter()
            .map(|(l, r)| {
                let left_index = self.left.schema().index_of_column(l)?;
                let right_index = self.right.schema().index_of_column(r)?;
                Ok((
                    Arc::new(PhysicalColumn::new(&l.name, left_index)) as _,
                    Arc::new(PhysicalColumn::new(&r.name, right_index)) as _,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(HashJoinExec::try_new(
            left,
            right,
            on,
            None,
            &self.join_type,
            None,
            PartitionMode::CollectLeft,
            NullEquality::NullEqualsNothing,
            false,
        )?))
    }
}
