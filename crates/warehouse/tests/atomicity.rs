//! Property: whatever sequence of good, bad, late and corrected deliveries arrives, the
//! warehouse holds exactly the rows of the last accepted delivery of each insurer and
//! period, and each accepted delivery is exactly one new table version. A correction that
//! would lose rows (COR-001) is held and changes nothing.

use aim_ingest::Verdict;
use aim_ingest::testkit::*;
use aim_model::{Database, Insurer, Period};
use aim_warehouse::load::NoProgress;
use aim_warehouse::{IngestOptions, Warehouse, query, reference};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Debug, Clone)]
struct Op {
    insurer: Insurer,
    quarter: u8,
    lines: u64,
    bad: bool,
    newer: bool,
}

fn op() -> impl Strategy<Value = Op> {
    (
        prop::bool::ANY,
        1u8..=2,
        1u64..40,
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(a, quarter, lines, bad, newer)| Op {
            insurer: if a {
                Insurer::Socialist
            } else {
                Insurer::Independent
            },
            quarter,
            lines,
            bad,
            newer,
        })
}

async fn table_counts(wh: &Warehouse) -> HashMap<(String, String), i64> {
    let ctx = query::session(wh, &BTreeMap::new()).await.unwrap();
    if !wh.table_names().contains(&"gzss".to_string()) {
        return HashMap::new();
    }
    let batches = query::run_read_only(
        &ctx,
        "SELECT insurer, period, count(*) AS n FROM gzss GROUP BY insurer, period",
    )
    .await
    .unwrap();
    let mut out = HashMap::new();
    for b in batches {
        let ins = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let per = datafusion::arrow::compute::cast(
            b.column(1),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        for i in 0..b.num_rows() {
            out.insert(
                (
                    ins.as_string::<i32>().value(i).to_string(),
                    per.as_string::<i32>().value(i).to_string(),
                ),
                b.column(2).as_primitive::<Int64Type>().value(i),
            );
        }
    }
    out
}

async fn scenario(ops: Vec<Op>) {
    let tmp = tempfile::tempdir().unwrap();
    let wh = Warehouse::open_or_create(&tmp.path().join("wh")).unwrap();
    reference::import(&wh, &aim_model::geography::default_reference_dir())
        .await
        .unwrap();
    let inbox = tmp.path().join("popu");
    for ins in [Insurer::Socialist, Insurer::Independent] {
        for q in 1..=2 {
            let p = Period::new(2024, q);
            let mut b = DeliveryBuilder::new(ins, Database::Popu, p);
            b.rows = (0..20).map(|n| popu_row(n, ins, p)).collect();
            b.write(&inbox);
        }
    }
    let opts = IngestOptions::default();
    aim_warehouse::ingest(&wh, &[inbox], &opts, Arc::new(NoProgress))
        .await
        .unwrap();

    let mut model: HashMap<(String, String), (u32, i64)> = HashMap::new();
    for (k, op) in ops.iter().enumerate() {
        let period = Period::new(2024, op.quarter);
        let key = (op.insurer.code().to_string(), period.to_string());
        let current_seq = model.get(&key).map(|(s, _)| *s).unwrap_or(0);
        let seq = if op.newer || current_seq == 0 {
            current_seq + 1
        } else {
            current_seq
        };
        let mut b = DeliveryBuilder::new(op.insurer, Database::Gzss, period);
        b.sequence = seq;
        let day = period.start().to_string();
        b.rows = (0..op.lines)
            .map(|i| gzss_row(k as u64 * 1000 + i, i % 20, op.insurer, &day))
            .collect();
        if op.bad {
            b.rows[0][1] = "85073003328".into();
        }
        let dir = b.write(&tmp.path().join(format!("op{k}")));
        let before = aim_warehouse::Catalog::load(&wh)
            .await
            .unwrap()
            .records
            .len();
        let s = aim_warehouse::ingest(&wh, &[dir], &opts, Arc::new(NoProgress))
            .await
            .unwrap();
        // COR-001: a correction that loses more than 10 % of the rows it replaces is held.
        let loses_rows = model
            .get(&key)
            .is_some_and(|(_, n)| (*n - op.lines as i64) as f64 / *n as f64 > 0.10);
        let accepted_expected = !op.bad && seq > current_seq && !loses_rows;
        let verdict = s.outcomes[0].verdict;
        if !op.bad && seq > current_seq && loses_rows {
            assert_eq!(verdict, Verdict::Held, "op {k} {op:?}");
        }
        assert_eq!(
            verdict == Verdict::Accepted,
            accepted_expected,
            "op {k} {op:?}: {:?}",
            s.outcomes[0].reasons
        );
        if accepted_expected {
            model.insert(key, (seq, op.lines as i64));
        }
        let after = aim_warehouse::Catalog::load(&wh)
            .await
            .unwrap()
            .records
            .len();
        assert_eq!(
            after - before,
            usize::from(accepted_expected),
            "one commit per accepted delivery"
        );
        let counts = table_counts(&wh).await;
        let expected: HashMap<_, _> = model.iter().map(|(k, (_, n))| (k.clone(), *n)).collect();
        assert_eq!(counts, expected, "after op {k} {op:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]
    #[test]
    fn the_warehouse_holds_exactly_the_last_accepted_delivery(ops in prop::collection::vec(op(), 1..6)) {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(scenario(ops));
    }
}
