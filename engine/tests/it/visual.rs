//! Seeing the work: task graphs, performance reports, the query log and the dashboard's
//! server. Golden graphs live in `testdata/graphs/`; reviewed by hand against the plans
//! `EXPLAIN` prints.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use rask::dashboard::{Dashboard, DEFAULT_ADDRESS};
use rask::{QueryState, Session};

use crate::testdata;

/// East 1 sale (qty 1), north 3 (qty 3 + 10 + NULL), south 2 (qty 7 + 6) above price 1.
const BY_REGION: &str = "SELECT region, count(*) AS n, sum(qty) AS qty FROM sales WHERE price > 1 GROUP BY region ORDER BY region";

async fn sales_session() -> Session {
    let session = Session::builder().partitions(2).build().unwrap();
    session
        .register_files("sales", &testdata("sales/part_*.csv"))
        .await
        .unwrap();
    session
}

/// Compares `actual` with the golden file `name`. With `RASK_BLESS=1` the file is written
/// instead (and nothing compared), to be reviewed before it is committed.
fn assert_golden(actual: &str, name: &str) {
    let path = testdata(&format!("graphs/{name}"));
    if std::env::var_os("RASK_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run with RASK_BLESS=1 to write it"));
    assert_eq!(
        actual, expected,
        "{path} differs; if the change is intended, rerun with RASK_BLESS=1 and review the diff"
    );
}

#[tokio::test]
async fn visualize_draws_the_plan_without_running_it() {
    let session = sales_session().await;
    let dir = tempfile::tempdir().unwrap();
    let frame = session.sql(BY_REGION).await.unwrap();
    let graph = frame.visualize(dir.path().join("plan.dot")).await.unwrap();
    let dot = std::fs::read_to_string(dir.path().join("plan.dot")).unwrap();
    assert_golden(&dot, "sales_by_region.dot");
    assert!(!graph.executed());
    assert_eq!(
        graph.tasks(),
        15,
        "a merge (1 task) and 7 operators × 2 partitions"
    );
    assert!(
        session.queries().latest().is_none(),
        "visualize computes nothing"
    );

    frame.visualize(dir.path().join("plan.svg")).await.unwrap();
    let svg = std::fs::read_to_string(dir.path().join("plan.svg")).unwrap();
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
    for operator in &graph.operators {
        assert!(svg.contains(&operator.name), "{} drawn", operator.name);
    }
    assert_eq!(svg.matches("<rect").count(), graph.operators.len());
    assert_eq!(
        svg.matches("<path").count(),
        graph.operators.len() - 1,
        "one edge per input"
    );
}

#[tokio::test]
async fn timeseries_graph_is_stable() {
    let session = Session::builder().partitions(2).build().unwrap();
    let frame = session
        .sql("SELECT name, max(x) AS x FROM timeseries('2000-01-01', '2000-01-03') GROUP BY name ORDER BY name")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timeseries.gv");
    frame.visualize(&path).await.unwrap();
    assert_golden(
        &std::fs::read_to_string(&path).unwrap(),
        "timeseries_max.dot",
    );
}

#[tokio::test]
async fn graphs_refuse_unknown_formats_and_missing_folders() {
    let frame = sales_session().await.sql(BY_REGION).await.unwrap();
    let error = frame.visualize("plan.txt").await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("cannot tell the graph format of 'plan.txt'"),
        "{error}"
    );
    let error = frame.visualize("/no/such/dir/plan.svg").await.unwrap_err();
    assert!(error.to_string().contains("does not exist"), "{error}");
}

/// The `data-value` of the summary row `key` of a report.
fn summary_value(html: &str, key: &str) -> String {
    let dom = tl::parse(html, tl::ParserOptions::default()).unwrap();
    let parser = dom.parser();
    let row = dom
        .query_selector("tr")
        .unwrap()
        .filter_map(|handle| handle.get(parser)?.as_tag())
        .find(|tag| {
            tag.attributes()
                .get("data-key")
                .flatten()
                .map(|v| v.as_utf8_str())
                == Some(key.into())
        })
        .unwrap_or_else(|| panic!("no summary row {key}"));
    let cell = row
        .query_selector(parser, "td")
        .unwrap()
        .next()
        .and_then(|handle| handle.get(parser)?.as_tag().cloned())
        .unwrap();
    cell.attributes()
        .get("data-value")
        .flatten()
        .unwrap()
        .as_utf8_str()
        .into_owned()
}

#[tokio::test]
async fn compute_with_report_writes_one_offline_page() {
    let session = sales_session().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    let table = session
        .sql(BY_REGION)
        .await
        .unwrap()
        .compute_with_report(&path)
        .await
        .unwrap();
    assert_eq!(table.num_rows(), 3);
    let html = std::fs::read_to_string(&path).unwrap();
    let dom = tl::parse(&html, tl::ParserOptions::default()).unwrap();
    for section in [
        "query",
        "summary",
        "graph",
        "operators",
        "task-stream",
        "files",
    ] {
        assert!(
            dom.get_element_by_id(section).is_some(),
            "section {section}"
        );
    }
    assert!(html.contains(&BY_REGION.replace('>', "&gt;")));
    // Namespaces (xmlns="http://www.w3.org/..") name, they do not fetch; references
    // point inside the page (`url(#endarrow)`).
    for fetch in ["<link", "@import", "<script", "<img"] {
        assert!(!html.contains(fetch), "nothing fetched: {fetch}");
    }
    for reference in ["src=", "href=", "url("] {
        for (at, _) in html.match_indices(reference) {
            let target = html[at + reference.len()..].trim_start_matches('"');
            assert!(target.starts_with('#'), "{}", &html[at..at + 40]);
        }
    }
    assert_eq!(summary_value(&html, "result-rows"), "3");
    assert_eq!(summary_value(&html, "rows-read"), "10");
    assert_eq!(summary_value(&html, "files"), "3");
    let sizes: u64 = (0..3)
        .map(|i| {
            std::fs::metadata(testdata(&format!("sales/part_{i}.csv")))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(summary_value(&html, "file-bytes"), sizes.to_string());
    assert_eq!(summary_value(&html, "tasks"), "15");
    assert_eq!(summary_value(&html, "spill-count"), "0");
    // Every task that ran has its lane: each operator on each partition; and where it was
    // busy (sampled at least once, at the query's end), a solid bar in it.
    assert_eq!(html.matches("<rect class=\"task\"").count(), 15);
    assert!(html.matches("<rect class=\"busy\"").count() >= 1);
    // The aggregations and the sort reserve memory from the pool: their peaks show.
    let peaks = html.matches("<td class=\"num peak\">").count();
    let unknown = html.matches("<td class=\"num peak\">—").count();
    assert!(
        peaks - unknown >= 3,
        "{} of {peaks} operators with a peak",
        peaks - unknown
    );
}

#[tokio::test]
async fn the_query_log_follows_each_query() {
    let session = sales_session().await;
    session
        .sql(BY_REGION)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let query = session.queries().latest().unwrap();
    assert_eq!(query.id(), 1);
    assert_eq!(query.sql(), BY_REGION);
    assert!(matches!(query.state(), QueryState::Finished(_)));
    assert_eq!(query.progress().rows_read(), 10);
    assert!(query.graph().executed());
    assert!(query.memory_peak() > 0, "the aggregations reserve memory");
    assert_eq!(query.memory_reserved(), 0, "and release it at the end");

    // A stream dropped before its end is a cancelled query.
    let stream = session
        .sql("SELECT * FROM timeseries()")
        .await
        .unwrap()
        .execute_stream()
        .await
        .unwrap();
    assert!(stream.query().state().is_running());
    drop(stream);
    let query = session.queries().latest().unwrap();
    assert_eq!(query.id(), 2);
    assert_eq!(query.state().name(), "cancelled");
}

/// `GET path` against `address`; returns the status line and the body.
fn get(address: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

#[test]
fn the_dashboard_serves_status_and_nothing_else() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let session = runtime.block_on(sales_session());
    let dashboard = Dashboard::start(&session, Some("127.0.0.1:0".parse().unwrap())).unwrap();
    assert!(dashboard.address().ip().is_loopback());
    assert!(dashboard.notice().is_none());
    runtime
        .block_on(async { session.sql(BY_REGION).await?.collect().await })
        .unwrap();

    let (status, page) = get(dashboard.address(), "/");
    assert!(status.contains("200"), "{status}");
    assert!(page.contains("<title>Rask dashboard</title>"));
    let (_, json) = get(dashboard.address(), "/status");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["cluster"]["kind"], "local");
    assert_eq!(json["cluster"]["partitions"], 2);
    let query = &json["queries"][0];
    assert_eq!(query["sql"], BY_REGION);
    assert_eq!(query["state"], "finished");
    assert_eq!(query["rows_read"], 10);
    assert_eq!(query["tasks"], 15);
    assert_eq!(query["tasks_done"], 15);
    let (status, svg) = get(dashboard.address(), "/graph.svg?query=1");
    assert!(status.contains("200") && svg.contains("<svg"), "{status}");

    for path in [
        "/graph.svg?query=9",
        "/../Cargo.toml",
        "/etc/passwd",
        "/status/../../x",
    ] {
        let (status, body) = get(dashboard.address(), path);
        assert!(status.contains("404"), "{path}: {status}");
        assert!(!body.contains("[package]") && !body.contains("root:"));
    }
}

#[test]
fn a_taken_address_is_an_error_and_the_default_port_falls_back() {
    let session = Session::builder().partitions(1).build().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let error = Dashboard::start(&session, Some(address)).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot serve the dashboard on {address}: ")),
        "{error}"
    );

    let open = Dashboard::start(&session, Some("0.0.0.0:0".parse().unwrap())).unwrap();
    assert!(open
        .notice()
        .unwrap()
        .contains("can be reached from other machines"));
    drop(open);

    // Held here, or by someone else: either way the default port is taken.
    let _held = TcpListener::bind(DEFAULT_ADDRESS);
    let dashboard = Dashboard::start(&session, None).unwrap();
    assert_ne!(dashboard.address().port(), DEFAULT_ADDRESS.port());
    assert!(dashboard.address().ip().is_loopback());
    let notice = dashboard.notice().unwrap();
    assert!(
        notice.contains("port 8787 is already in use")
            && notice.contains(&dashboard.address().port().to_string()),
        "{notice}"
    );
}
