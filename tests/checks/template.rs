//! `template.yaml` and the code cannot drift: the environment variables, routes, binaries, table
//! keys, TTL attribute, IAM actions and resources, alarms and archive settings the template
//! declares are exactly the ones the code uses. The template is read with a YAML parser and its
//! CloudFormation short forms (`!Ref`, `!GetAtt`, `!Sub`, `!If`, ...) turned into the long forms
//! CloudFormation reads them as, so these tests compare values, never lines or indentation.

use kyc_intake::aws::journey_table;
use kyc_intake::aws::{
    keys_attr, ARCHIVE_ACTIONS, ARCHIVE_KEYS_ACTIONS, DATA_KEY_ACTIONS, JOURNEY_ERASURE_ATTRIBUTES,
    JOURNEY_TABLE_ACTIONS, KEPT_ATTRIBUTES, OPERATOR_KEYS_ACTIONS, SIGNING_ACTIONS, SQS_ACTIONS,
    STREAM_ACTIONS, WORKER_SQS_ACTIONS,
};
use kyc_intake::config::var;
use kyc_intake::intake::{archive, seal};
use kyc_intake::journeys::worker;
use kyc_intake::secrets::manager;
use kyc_intake::sources::registry::FUNCTIONS;
use kyc_intake::sources::FunctionSpec;
use kyc_intake_tests::workspace;
use lambda_idempotency::{DynamoDbStore, DYNAMODB_ACTIONS};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// `template.yaml`, as CloudFormation reads it, as JSON. `make generate` writes one resource per
/// function, so there is no loop to expand (and none may appear: the tests would not see into it).
fn template() -> Value {
    let text = std::fs::read_to_string(workspace().join("template.yaml")).expect("template.yaml");
    let yaml: yaml_serde::Value = yaml_serde::from_str(&text).expect("template.yaml is YAML");
    let t = long_form(yaml);
    assert!(
        !t.to_string().contains("Fn::ForEach"),
        "one loop mechanism: the generator, not Fn::ForEach"
    );
    t
}

/// A YAML value in CloudFormation's long form: `!Ref X` is `{"Ref": "X"}`, `!GetAtt A.B` is
/// `{"Fn::GetAtt": ["A", "B"]}`, `!Condition C` is `{"Condition": "C"}`, any other `!Name v` is
/// `{"Fn::Name": v}`.
fn long_form(v: yaml_serde::Value) -> Value {
    use yaml_serde::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => n
            .as_i64()
            .map(Value::from)
            .or_else(|| n.as_f64().map(Value::from))
            .unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => items.into_iter().map(long_form).collect(),
        Y::Mapping(map) => map
            .into_iter()
            .map(|(k, v)| {
                let key = match long_form(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (key, long_form(v))
            })
            .collect::<Map<_, _>>()
            .into(),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = long_form(tagged.value);
            match name {
                "Ref" | "Condition" => json!({ name: value }),
                "GetAtt" => {
                    let text = value.as_str().expect("!GetAtt Resource.Attribute");
                    let (resource, attribute) = text.split_once('.').expect("Resource.Attribute");
                    json!({ "Fn::GetAtt": [resource, attribute] })
                }
                other => json!({ format!("Fn::{other}"): value }),
            }
        }
    }
}

fn reference(name: &str) -> Value {
    json!({ "Ref": name })
}

fn get_att(resource: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [resource, attribute] })
}

fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

fn resources(t: &Value) -> &Map<String, Value> {
    t["Resources"].as_object().expect("Resources")
}

fn resource<'t>(t: &'t Value, id: &str) -> &'t Value {
    resources(t)
        .get(id)
        .unwrap_or_else(|| panic!("no resource {id}"))
}

/// Every resource of a type.
fn of_type<'t>(t: &'t Value, kind: &str) -> Vec<(&'t String, &'t Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// The function resource that builds `binary`.
fn function<'t>(t: &'t Value, binary: &str) -> &'t Value {
    resources(t)
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"] == binary)
        .unwrap_or_else(|| panic!("no resource builds {binary}"))
}

fn webhook<'t>(t: &'t Value, f: &FunctionSpec) -> &'t Value {
    function(t, f.name)
}

/// The names of an `Environment.Variables` mapping.
fn names(variables: &Value) -> BTreeSet<String> {
    variables
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn variables(resource: &Value) -> &Value {
    &resource["Properties"]["Environment"]["Variables"]
}

/// A value or a list, as a list.
fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// A function's policy statements; a statement under `!If [condition, statement,
/// !Ref AWS::NoValue]` counts as the statement.
fn statements(resource: &Value) -> Vec<Value> {
    list(&resource["Properties"]["Policies"])
        .iter()
        .flat_map(|policy| list(&policy["Statement"]))
        .map(|s| match s.get("Fn::If") {
            Some(branches) => {
                assert_eq!(branches[2], reference("AWS::NoValue"), "{s}");
                branches[1].clone()
            }
            None => s,
        })
        .collect()
}

/// (actions, resources) of each statement, in order.
fn grants(resource: &Value) -> Vec<(Vec<Value>, Vec<Value>)> {
    statements(resource)
        .iter()
        .map(|s| {
            assert_eq!(s["Effect"], "Allow", "{s}");
            (list(&s["Action"]), list(&s["Resource"]))
        })
        .collect()
}

fn actions(names: &[&str]) -> Vec<Value> {
    names.iter().map(|a| Value::from(*a)).collect()
}

/// Every value anywhere under `v` (itself included).
fn walk(v: &Value) -> Vec<&Value> {
    let mut out = vec![v];
    match v {
        Value::Array(items) => items.iter().for_each(|i| out.extend(walk(i))),
        Value::Object(map) => map.values().for_each(|i| out.extend(walk(i))),
        _ => {}
    }
    out
}

#[test]
fn the_short_forms_read_as_cloudformation_reads_them() {
    let yaml = "A: !Ref X\nB: !GetAtt T.Arn\nC: !Sub \"${T.Arn}/*\"\nD: !If [Cond, !Ref Y, \"\"]\nE: [1, true, \"true\"]\n";
    let v = long_form(yaml_serde::from_str(yaml).expect("YAML"));
    assert_eq!(
        v,
        json!({
            "A": {"Ref": "X"},
            "B": {"Fn::GetAtt": ["T", "Arn"]},
            "C": {"Fn::Sub": "${T.Arn}/*"},
            "D": {"Fn::If": ["Cond", {"Ref": "Y"}, ""]},
            "E": [1, true, "true"],
        })
    );
}

#[test]
fn environment_variables_match_per_function() {
    let t = template();
    let common: BTreeSet<String> = var::COMMON.iter().map(|v| (*v).to_owned()).collect();
    assert_eq!(
        names(&t["Globals"]["Function"]["Environment"]["Variables"]),
        common,
        "Globals: the common settings"
    );
    for f in FUNCTIONS {
        let own: BTreeSet<String> = f
            .variables()
            .iter()
            .map(|v| (*v).to_owned())
            .chain(f.secret_variables().into_iter().map(manager::id_variable))
            // Whoever may read Secrets Manager is told how long a value may be used.
            .chain((!f.secret_variables().is_empty()).then(|| manager::MAX_AGE_VARIABLE.to_owned()))
            .chain(var::WEBHOOK.iter().map(|v| (*v).to_owned()))
            .collect();
        assert_eq!(names(variables(webhook(&t, f))), own, "{}", f.name);
    }
}

/// The `HttpApi` events of a resource: (method, path).
fn routes(resource: &Value) -> Vec<(Value, Value)> {
    resource["Properties"]["Events"]
        .as_object()
        .map(|events| {
            events
                .values()
                .filter(|e| e["Type"] == "HttpApi")
                .map(|e| {
                    (
                        e["Properties"]["Method"].clone(),
                        e["Properties"]["Path"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn routes_match_per_function_and_are_post() {
    let t = template();
    let mut all = 0;
    for f in FUNCTIONS {
        let got = routes(webhook(&t, f));
        let paths: BTreeSet<String> = got
            .iter()
            .map(|(_, p)| p.as_str().expect("a path").to_owned())
            .collect();
        let want: BTreeSet<String> = f.sources.iter().map(|s| s.route.to_owned()).collect();
        assert_eq!(paths, want, "{}", f.name);
        assert_eq!(got.len(), want.len(), "{}: one event per route", f.name);
        assert!(got.iter().all(|(m, _)| m == "POST"), "{}", f.name);
        all += got.len();
    }
    let everywhere: usize = resources(&t).values().map(|r| routes(r).len()).sum();
    assert_eq!(everywhere, all, "no route outside the functions");
}

#[test]
fn binaries_match_the_function_crates() {
    let t = template();
    let functions = of_type(&t, "AWS::Serverless::Function");
    let binaries: BTreeSet<String> = functions
        .iter()
        .map(|(id, r)| {
            assert_eq!(r["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
            r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{id} names no binary"))
                .to_owned()
        })
        .collect();
    assert_eq!(binaries.len(), functions.len(), "one function per binary");
    let registered: BTreeSet<String> = FUNCTIONS
        .iter()
        .map(|f| f.name)
        .chain([
            worker::WORKER_NAME,
            kyc_intake::journeys::sweeper::SWEEPER_NAME,
            kyc_intake::sources::registry::ARCHIVE_REPLAY,
        ])
        .map(str::to_owned)
        .collect();
    assert_eq!(
        binaries, registered,
        "the template builds exactly the registry's functions"
    );
    // Every crate under functions/ builds one of them, and each is built by one.
    let mut crates = BTreeSet::new();
    for dir in std::fs::read_dir(workspace().join("functions")).expect("functions/") {
        let manifest = std::fs::read_to_string(dir.expect("entry").path().join("Cargo.toml"))
            .expect("manifest");
        let manifest: toml::Table = manifest.parse().expect("a TOML manifest");
        let bins = manifest["bin"].as_array().expect("[[bin]]");
        for bin in bins {
            crates.insert(bin["name"].as_str().expect("a name").to_owned());
        }
    }
    assert_eq!(binaries, crates);
}

/// `[{AttributeName, <field>}]` of a key schema or attribute definitions, as pairs.
fn pairs(v: &Value, field: &str) -> Vec<(String, String)> {
    list(v)
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().expect("a name").to_owned(),
                a[field].as_str().expect(field).to_owned(),
            )
        })
        .collect()
}

fn owned(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn table_key_and_ttl_match() {
    let t = template();
    let idempotency = &resource(&t, "IdempotencyTable")["Properties"];
    assert_eq!(
        pairs(&idempotency["AttributeDefinitions"], "AttributeType"),
        owned(&[(DynamoDbStore::PARTITION_KEY, "S")])
    );
    assert_eq!(
        pairs(&idempotency["KeySchema"], "KeyType"),
        owned(&[(DynamoDbStore::PARTITION_KEY, "HASH")])
    );
    assert_eq!(
        idempotency["TimeToLiveSpecification"],
        json!({"AttributeName": DynamoDbStore::TTL_ATTRIBUTE, "Enabled": true})
    );
    let journeys = &resource(&t, "JourneyTable")["Properties"];
    let (pk, shard, due) = (
        journey_table::attr::PK,
        journey_table::attr::SWEEP_SHARD,
        journey_table::attr::DUE_AT,
    );
    assert_eq!(
        pairs(&journeys["AttributeDefinitions"], "AttributeType"),
        owned(&[(pk, "S"), (shard, "S"), (due, "N")])
    );
    assert_eq!(
        pairs(&journeys["KeySchema"], "KeyType"),
        owned(&[(pk, "HASH")])
    );
    let index = &journeys["GlobalSecondaryIndexes"][0];
    assert_eq!(
        pairs(&index["KeySchema"], "KeyType"),
        owned(&[(shard, "HASH"), (due, "RANGE")])
    );
    assert!(
        journeys.get("TimeToLiveSpecification").is_none(),
        "no TTL: a journey's state is kept"
    );
    for table in [idempotency, journeys] {
        assert_eq!(table["SSESpecification"]["SSEEnabled"], true);
        assert_eq!(
            table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            true
        );
        assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    }
}

/// The secret a function's `<X>_SECRET_ID` names, with Secrets Manager on.
fn secret_of(function: &Value, variable: &str) -> Value {
    let id = &variables(function)[manager::id_variable(variable)]["Fn::If"];
    assert_eq!(id[0], "UseSecretsManager", "{variable}");
    id[1].clone()
}

#[test]
fn iam_actions_are_exactly_what_the_code_calls() {
    let t = template();
    for f in FUNCTIONS {
        let resource = webhook(&t, f);
        let archive_prefixes: Vec<Value> = f
            .sources
            .iter()
            .map(|s| {
                sub(&format!(
                    "${{ArchiveBucket.Arn}}/{}/{}/*",
                    archive::PREFIX,
                    s.name
                ))
            })
            .collect();
        // The secrets it may read: exactly those its `<X>_SECRET_ID` variables name.
        let secrets: Vec<Value> = f
            .secret_variables()
            .iter()
            .map(|v| secret_of(resource, v))
            .collect();
        let want = vec![
            (
                actions(DYNAMODB_ACTIONS),
                vec![get_att("IdempotencyTable", "Arn")],
            ),
            (actions(SQS_ACTIONS), vec![get_att("EventsQueue", "Arn")]),
            (actions(ARCHIVE_ACTIONS), archive_prefixes),
            // The archive key's data keys through S3 (SSE-KMS), the signing key's Sign and a
            // delivery's own data key: the key policies delegate these to the webhook roles'
            // path, so each role's own statements are what grant them.
            (
                actions(DATA_KEY_ACTIONS),
                vec![get_att("ArchiveKey", "Arn")],
            ),
            (
                actions(SIGNING_ACTIONS),
                vec![get_att("ArchiveSigningKey", "Arn")],
            ),
            (
                actions(DATA_KEY_ACTIONS),
                vec![get_att("ArchiveKey", "Arn")],
            ),
            (
                actions(ARCHIVE_KEYS_ACTIONS),
                vec![get_att("ArchiveKeysTable", "Arn")],
            ),
            (actions(&["secretsmanager:GetSecretValue"]), secrets),
        ];
        assert_eq!(
            grants(resource),
            want,
            "{}: table items, queue, its archive prefixes, key items, its own secrets; no wildcard",
            f.name
        );
        let keeping = statements(resource)
            .into_iter()
            .find(|s| s["Resource"] == get_att("ArchiveKeysTable", "Arn"))
            .expect("the archive keys table");
        let partitions: Vec<String> = f
            .sources
            .iter()
            .map(|s| format!("{}*", kyc_intake::intake::seal::partition(s.name, "")))
            .collect();
        assert_eq!(
            keeping["Condition"],
            json!({
                "ForAllValues:StringEquals": {"dynamodb:Attributes": KEPT_ATTRIBUTES},
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": partitions},
            }),
            "{}: a key item's attributes and nothing else (never an erasure record's), under its own sources' partitions alone",
            f.name
        );
    }
    assert_eq!(
        grants(function(&t, worker::WORKER_NAME)),
        vec![
            (
                actions(JOURNEY_TABLE_ACTIONS),
                vec![get_att("JourneyTable", "Arn")]
            ),
            (
                actions(DYNAMODB_ACTIONS),
                vec![get_att("IdempotencyTable", "Arn")]
            ),
            (
                actions(WORKER_SQS_ACTIONS),
                vec![get_att("EventsQueue", "Arn")]
            ),
            (
                actions(STREAM_ACTIONS),
                vec![reference("JourneyStreamTopic")]
            ),
        ],
        "journey-worker: its table, its claims, the queue it consumes, the stream it publishes"
    );
    // No wildcard resource in any role; a KMS key policy's `*` means the key itself.
    for (id, r) in resources(&t) {
        if r["Type"] == "AWS::KMS::Key" {
            continue;
        }
        for v in walk(r) {
            if let Some(resource) = v.get("Resource") {
                assert!(
                    !list(resource).contains(&Value::from("*")),
                    "{id}: Resource \"*\""
                );
            }
        }
    }
}

/// The `dynamodb:LeadingKeys` patterns of a function's statements, in order.
fn leading_keys(resource: &Value) -> Vec<Value> {
    statements(resource)
        .iter()
        .flat_map(|s| list(&s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]))
        .collect()
}

/// Each webhook role writes the idempotency records, and the archive keys, of its own sources
/// alone: both tables' partition keys start with the source.
#[test]
fn each_function_may_write_only_the_idempotency_records_of_its_own_sources() {
    let t = template();
    for f in FUNCTIONS {
        let own: Vec<Value> = f
            .sources
            .iter()
            .map(|s| Value::from(format!("{}#*", s.name)))
            .collect();
        let want: Vec<Value> = own.iter().chain(&own).cloned().collect();
        assert_eq!(
            leading_keys(webhook(&t, f)),
            want,
            "{}: the idempotency table, then the archive keys table",
            f.name
        );
    }
    assert_eq!(
        leading_keys(function(&t, worker::WORKER_NAME)),
        [Value::from(format!("{}*", worker::KEY_PREFIX))]
    );
}

#[test]
fn one_alarm_watches_every_sources_authentication_refusals_and_one_the_secret_refreshes() {
    let t = template();
    let alarm = &resource(&t, "AuthFailureBurstAlarm")["Properties"];
    let metrics = list(&alarm["Metrics"]);
    let mut watched = BTreeSet::new();
    let mut ids = Vec::new();
    for m in metrics.iter().filter(|m| m.get("MetricStat").is_some()) {
        let metric = &m["MetricStat"]["Metric"];
        assert_eq!(metric["MetricName"], "AuthRefused", "{m}");
        let dimensions = list(&metric["Dimensions"]);
        assert_eq!(dimensions.len(), 1, "{m}");
        assert_eq!(dimensions[0]["Name"], "Source", "{m}");
        watched.insert(
            dimensions[0]["Value"]
                .as_str()
                .expect("a source")
                .to_owned(),
        );
        ids.push(m["Id"].as_str().expect("an id").to_owned());
    }
    let sources: BTreeSet<String> = FUNCTIONS
        .iter()
        .flat_map(|f| f.sources.iter().map(|s| s.name.to_owned()))
        .collect();
    assert_eq!(watched, sources);
    // The alarm's one expression is over every source's series.
    let expression = metrics
        .iter()
        .find_map(|m| m["Expression"].as_str())
        .expect("an expression");
    for id in &ids {
        assert!(
            expression.contains(&format!("FILL({id}, 0)")),
            "{id} in {expression}"
        );
    }
    let refresh = &resource(&t, "SecretRefreshFailedAlarm")["Properties"];
    assert_eq!(refresh["MetricName"], "SecretRefreshFailed");
    // Both metrics are ones the code emits.
    let doc = kyc_intake::metrics::secret_refresh_failed("X", 1);
    assert!(kyc_intake::metrics::check_emf(&doc)
        .expect("EMF")
        .contains_key("SecretRefreshFailed"));
}

#[test]
fn the_journey_worker_is_optional_and_reports_batch_item_failures() {
    let t = template();
    let worker = function(&t, worker::WORKER_NAME);
    assert_eq!(worker["Condition"], "JourneyWorkerDeployed");
    let own = [
        worker::var::JOURNEY_TABLE,
        kyc_intake::journeys::completeness::STALL_AFTER_VARIABLE,
        kyc_intake::journeys::senders::VARIABLE,
        kyc_intake::journeys::stream::TOPIC_VARIABLE,
    ];
    assert_eq!(
        variables(worker)[kyc_intake::journeys::stream::TOPIC_VARIABLE],
        reference("JourneyStreamTopic")
    );
    assert_eq!(
        names(variables(worker)),
        own.iter().map(|v| (*v).to_owned()).collect()
    );
    for v in worker::var::ALL.iter().filter(|v| !own.contains(v)) {
        assert!(var::COMMON.contains(v), "{v} comes from Globals");
    }
    let mapping = resource(&t, "JourneyWorkerEventSource");
    assert_eq!(mapping["Condition"], "JourneyWorkerDeployed");
    assert_eq!(
        mapping["Properties"]["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(
        mapping["Properties"]["EventSourceArn"],
        get_att("EventsQueue", "Arn")
    );
    for (id, r) in of_type(&t, "AWS::Serverless::Function") {
        for event in r["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flat_map(|e| e.values())
        {
            assert_ne!(
                event["Type"], "SQS",
                "{id}: no SAM SQS event: it would attach a managed policy on every queue"
            );
        }
    }
}

#[test]
fn every_parameter_is_in_one_labelled_group_for_the_console() {
    let t = template();
    let groups = list(&t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]);
    let mut grouped = Vec::new();
    for g in &groups {
        assert!(
            g["Label"]["default"]
                .as_str()
                .is_some_and(|l| !l.is_empty()),
            "{g}"
        );
        grouped.extend(
            list(&g["Parameters"])
                .into_iter()
                .map(|p| p.as_str().unwrap_or_default().to_owned()),
        );
    }
    let declared: BTreeSet<String> = t["Parameters"]
        .as_object()
        .expect("parameters")
        .keys()
        .cloned()
        .collect();
    let once: BTreeSet<String> = grouped.iter().cloned().collect();
    assert_eq!(once.len(), grouped.len(), "a parameter in two groups");
    assert_eq!(once, declared, "every parameter in a group, and only those");
}

#[test]
fn every_secret_is_no_echo_and_empty_by_default() {
    let t = template();
    for f in FUNCTIONS {
        let resource = webhook(&t, f);
        for v in f.secret_variables() {
            // `<X>: !If [UseSecretsManager, "", !Ref <Parameter>]`
            let value = &variables(resource)[v]["Fn::If"];
            assert_eq!(value[0], "UseSecretsManager", "{v}");
            let param = value[2]["Ref"].as_str().expect("a parameter");
            let p = &t["Parameters"][param];
            assert_eq!(p["NoEcho"], true, "{param} is NoEcho");
            assert_eq!(p["Default"], "", "{param}: empty = a generated secret");
        }
    }
}

#[test]
fn the_function_timeout_allows_the_whole_protocol() {
    let t = template();
    let timeout = t["Globals"]["Function"]["Timeout"]
        .as_u64()
        .expect("seconds");
    assert_eq!(timeout, kyc_intake::intake::pipeline::FUNCTION_TIMEOUT_SECS);
    let three_calls = 3 * kyc_intake::aws::OPERATION_TIMEOUT.as_secs();
    assert!(
        timeout > three_calls,
        "claim, send and complete at their SDK timeout ({three_calls} s) fit in {timeout} s"
    );
}

#[test]
fn every_body_up_to_the_largest_max_body_bytes_fits_the_queue() {
    use kyc_intake::intake::settings::{MAX_BODY_BYTES_LIMIT, QUEUE_MAX_MESSAGE_BYTES};
    let t = template();
    // The events queue and its dead-letter queue; the stream's queues take what SNS sends (the
    // stream's own limit, held by the journey stream's test).
    let queues: Vec<_> = of_type(&t, "AWS::SQS::Queue")
        .into_iter()
        .filter(|(id, _)| !id.starts_with("Application"))
        .collect();
    assert_eq!(queues.len(), 2, "the queue and its dead-letter queue");
    for (id, q) in queues {
        assert_eq!(
            q["Properties"]["MaximumMessageSize"], QUEUE_MAX_MESSAGE_BYTES,
            "{id}"
        );
    }
    assert_eq!(
        t["Parameters"]["MaxBodyBytes"]["MaxValue"],
        MAX_BODY_BYTES_LIMIT
    );
    let local = std::fs::read_to_string(workspace().join("tools/local/src/resources.rs"))
        .expect("resources.rs");
    assert!(
        local.contains("QUEUE_MAX_MESSAGE_BYTES"),
        "the local queue is made with the same MaximumMessageSize"
    );
}

/// Every metric an alarm watches: (namespace, name, dimensions).
fn watched_metrics(alarm: &Value) -> Vec<(Value, Value, Vec<Value>)> {
    let p = &alarm["Properties"];
    if p.get("MetricName").is_some() {
        return vec![(
            p["Namespace"].clone(),
            p["MetricName"].clone(),
            list(&p["Dimensions"]),
        )];
    }
    list(&p["Metrics"])
        .iter()
        .filter_map(|m| m.get("MetricStat"))
        .map(|s| {
            let m = &s["Metric"];
            (
                m["Namespace"].clone(),
                m["MetricName"].clone(),
                list(&m["Dimensions"]),
            )
        })
        .collect()
}

#[test]
fn alarms_watch_metrics_and_outcomes_the_code_emits() {
    use kyc_intake::metrics::NAMESPACE;
    use kyc_intake::Outcome;
    let t = template();
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    let metrics: Vec<(Value, Value, Vec<Value>)> = alarms
        .iter()
        .flat_map(|(_, a)| watched_metrics(a))
        .collect();
    let ours = metrics.iter().filter(|(ns, _, _)| *ns == NAMESPACE).count();
    assert!(ours >= 5, "alarms on the intake's own metrics");
    for (ns, name, _) in &metrics {
        let ns = ns.as_str().expect("a namespace");
        assert!(ns == NAMESPACE || ns.starts_with("AWS/"), "{name}: {ns}");
    }
    // Every Outcome the alarms name is one the code can answer.
    let labels = Outcome::labels();
    let outcomes: Vec<String> = metrics
        .iter()
        .flat_map(|(_, _, d)| d.iter())
        .filter(|d| d["Name"] == "Outcome")
        .map(|d| d["Value"].as_str().expect("an outcome").to_owned())
        .collect();
    assert!(outcomes.len() >= 2, "{outcomes:?}");
    for o in &outcomes {
        assert!(labels.contains(&o.as_str()), "the code never answers {o}");
    }
    for metric in [
        "Webhooks",
        "ForwardRejected",
        "AuthRefused",
        "SecretRefreshFailed",
    ] {
        assert!(
            metrics.iter().any(|(_, name, _)| name == metric),
            "{metric}"
        );
    }
    // The alarms operations rely on, by name.
    for alarm in [
        "WebhooksUnavailableAlarm",
        "WebhooksNotConfiguredAlarm",
        "ForwardRejectedAlarm",
        "AuthFailureBurstAlarm",
        "SecretRefreshFailedAlarm",
        "ApiGateway5xxAlarm",
        "CashfreeErrorsAlarm",
        "HypervergeErrorsAlarm",
        "JourneyWorkerErrorsAlarm",
        "CashfreeThrottlesAlarm",
        "HypervergeThrottlesAlarm",
        "JourneyWorkerThrottlesAlarm",
        "EventsQueueAgeAlarm",
        "DeadLetterQueueAlarm",
    ] {
        assert!(
            alarms.iter().any(|(id, _)| *id == alarm),
            "{alarm} is not an alarm"
        );
    }
}

#[test]
fn the_api_is_throttled_and_its_access_log_has_no_query_string_or_body() {
    let t = template();
    let api = &resource(&t, "WebhookApi")["Properties"];
    assert_eq!(
        api["DefaultRouteSettings"],
        json!({
            "ThrottlingRateLimit": reference("ApiThrottlingRateLimit"),
            "ThrottlingBurstLimit": reference("ApiThrottlingBurstLimit"),
        })
    );
    let format = api["AccessLogSettings"]["Format"]
        .as_str()
        .expect("an access log format");
    let fields: Value = serde_json::from_str(format.trim()).expect("a JSON format");
    let text = fields.to_string().to_lowercase();
    for banned in [
        "$context.requestOverride",
        "querystring",
        "$input",
        "$request.body",
        "rawQueryString",
    ] {
        assert!(!text.contains(&banned.to_lowercase()), "{banned}");
    }
    assert!(text.contains("$context.path") && text.contains("$context.status"));
    assert_eq!(
        resource(&t, "OperationsDashboard")["Type"],
        "AWS::CloudWatch::Dashboard"
    );
}

#[test]
fn the_archive_bucket_is_locked_encrypted_private_tls_only_and_tiered_by_size() {
    let t = template();
    let bucket = resource(&t, "ArchiveBucket");
    assert_eq!(bucket["DeletionPolicy"], "Retain");
    let p = &bucket["Properties"];
    assert_eq!(p["ObjectLockEnabled"], true);
    assert_eq!(
        p["ObjectLockConfiguration"],
        json!({
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {
                "Mode": reference("ArchiveLockMode"),
                "Days": reference("ArchiveRetentionDays"),
            }},
        })
    );
    assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
    assert_eq!(
        p["BucketEncryption"]["ServerSideEncryptionConfiguration"],
        json!([{
            "ServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": get_att("ArchiveKey", "Arn"),
            },
            "BucketKeyEnabled": true,
        }])
    );
    assert_eq!(
        p["PublicAccessBlockConfiguration"],
        json!({
            "BlockPublicAcls": true,
            "BlockPublicPolicy": true,
            "IgnorePublicAcls": true,
            "RestrictPublicBuckets": true,
        })
    );
    let rules = list(&p["LifecycleConfiguration"]["Rules"]);
    let cold = rules
        .iter()
        .find(|r| r.get("Transitions").is_some())
        .expect("a transition rule");
    assert_eq!(cold["ObjectSizeGreaterThan"], 131_072);
    assert_eq!(
        cold["Transitions"],
        json!([{"StorageClass": "GLACIER_IR", "TransitionInDays": reference("ArchiveColdAfterDays")}])
    );
    assert!(rules
        .iter()
        .any(|r| r["ExpirationInDays"] == reference("ArchiveRetentionDays")));
    assert_eq!(
        resource(&t, "ArchiveKey")["Properties"]["EnableKeyRotation"],
        true
    );
    let policy = &resource(&t, "ArchiveBucketPolicy")["Properties"]["PolicyDocument"];
    assert!(
        list(&policy["Statement"])
            .iter()
            .any(|s| s["Effect"] == "Deny"
                && s["Condition"]["Bool"]["aws:SecureTransport"] == "false")
    );
    let params = &t["Parameters"];
    for (name, default) in [
        ("ArchiveRetentionDays", json!(1825)),
        ("ArchiveLockMode", json!("GOVERNANCE")),
        ("ArchiveColdAfterDays", json!(90)),
        ("ArchiveEnabled", json!("true")),
    ] {
        assert_eq!(params[name]["Default"], default, "{name}");
    }
    assert_eq!(
        params["ArchiveLockMode"]["AllowedValues"],
        json!(["GOVERNANCE", "COMPLIANCE"])
    );
    // The code writes where the roles allow.
    let key = archive::key("cashfree/vkyc", chrono::Utc::now(), "id");
    assert!(key.starts_with(&format!("{}/cashfree/vkyc/", archive::PREFIX)));
}

#[test]
fn the_sweeper_queries_the_due_index_of_open_journeys_and_never_scans() {
    use kyc_intake::aws::journey_table::{DUE_INDEX, DUE_PROJECTION};
    use kyc_intake::journeys::completeness::STALL_AFTER_VARIABLE;
    let t = template();
    let sweeper = function(&t, kyc_intake::journeys::sweeper::SWEEPER_NAME);
    // Its variables are ones the code reads (the secret only by its _SECRET_ID).
    let vars = names(variables(sweeper));
    let known: BTreeSet<String> = kyc_intake::journeys::sweeper::variables()
        .iter()
        .map(|v| (*v).to_owned())
        .chain(
            kyc_intake::journeys::sweeper::secret_variables()
                .iter()
                .map(|v| manager::id_variable(v)),
        )
        .collect();
    assert!(!vars.is_empty() && vars.is_subset(&known), "{vars:?}");
    assert!(vars.contains(worker::var::JOURNEY_TABLE));
    // A query on the index, the queue, its secret: nothing else, and no scan anywhere.
    let mut expected = vec![
        (
            actions(kyc_intake::aws::SWEEPER_TABLE_ACTIONS),
            vec![sub(&format!("${{JourneyTable.Arn}}/index/{DUE_INDEX}"))],
        ),
        (
            actions(&["sqs:SendMessage"]),
            vec![get_att("EventsQueue", "Arn")],
        ),
    ];
    for api in kyc_intake::journeys::sweeper::status_apis() {
        expected.push((
            actions(&["secretsmanager:GetSecretValue"]),
            vec![reference(&format!("{}Secret", api.resource))],
        ));
    }
    assert_eq!(
        grants(sweeper),
        expected,
        "each provider's status API secret, its own statement"
    );
    assert_eq!(
        kyc_intake::journeys::sweeper::status_apis()
            .iter()
            .map(|s| s.provider)
            .collect::<Vec<_>>(),
        ["cashfree", "digio", "hyperverge"]
    );
    // In your VPC only when both lists are given; an API that answers only allowlisted addresses
    // is on only there.
    let props = &sweeper["Properties"];
    assert_eq!(props["VpcConfig"]["Fn::If"][0], "SweeperInVpc");
    assert_eq!(
        props["VpcConfig"]["Fn::If"][1],
        json!({"SubnetIds": {"Ref": "SweeperSubnetIds"}, "SecurityGroupIds": {"Ref": "SweeperSecurityGroupIds"}})
    );
    let conditions = &t["Conditions"];
    for api in kyc_intake::journeys::sweeper::status_apis() {
        let on = conditions[format!("Has{}", api.resource)].to_string();
        assert_eq!(
            on.contains(r#"{"Condition":"SweeperInVpc"}"#),
            api.fixed_address,
            "{}: {on}",
            api.provider
        );
    }
    let in_vpc = conditions["SweeperInVpc"].to_string();
    assert!(
        in_vpc.contains("SweeperSubnetIds") && in_vpc.contains("SweeperSecurityGroupIds"),
        "{in_vpc}"
    );
    // Only `kycctl erase --reapply` scans, and only the archive keys table.
    for (id, r) in resources(&t) {
        if r.to_string().contains("dynamodb:Scan") {
            assert_eq!(id, "OperatorPolicy");
        }
    }
    let operator =
        policy_statements(&resource(&t, "OperatorPolicy")["Properties"]["PolicyDocument"]);
    for s in operator
        .iter()
        .filter(|s| list(&s["Action"]).contains(&Value::from("dynamodb:Scan")))
    {
        assert_eq!(s["Resource"], get_att("ArchiveKeysTable", "Arn"), "{s}");
    }
    let schedules: Vec<&Value> = sweeper["Properties"]["Events"]
        .as_object()
        .expect("events")
        .values()
        .filter(|e| e["Type"] == "ScheduleV2")
        .collect();
    assert_eq!(schedules.len(), 1);
    assert_eq!(
        schedules[0]["Properties"]["ScheduleExpression"],
        sub("rate(${SweepIntervalMinutes} minutes)")
    );
    // The index the code queries, with what the sweeper reads.
    let index = &resource(&t, "JourneyTable")["Properties"]["GlobalSecondaryIndexes"][0];
    assert_eq!(index["IndexName"], DUE_INDEX);
    assert_eq!(
        index["Projection"],
        json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": DUE_PROJECTION})
    );
    // The worker computes due times from the limits; empty by default: every source's own,
    // so a new source needs nothing here.
    let worker = function(&t, worker::WORKER_NAME);
    assert_eq!(
        variables(worker)[STALL_AFTER_VARIABLE],
        reference("JourneyStallAfter")
    );
    assert_eq!(t["Parameters"]["JourneyStallAfter"]["Default"], "");
    assert!(
        kyc_intake::journeys::completeness::StallAfter::from_env(&|_: &str| Some(String::new()))
            .is_ok()
    );
    for alarm in ["StalledJourneysAlarm", "JourneySweeperErrorsAlarm"] {
        assert_eq!(resource(&t, alarm)["Type"], "AWS::CloudWatch::Alarm");
    }
}

/// The logical id of the role SAM makes for the function that builds `binary`.
fn role_of(t: &Value, binary: &str) -> String {
    let (id, _) = resources(t)
        .iter()
        .find(|(_, r)| r["Metadata"]["BuildProperties"]["Binary"] == binary)
        .unwrap_or_else(|| panic!("no resource builds {binary}"));
    format!("{id}Role")
}

/// A value under `!If [Has<Provider>, value, !Ref AWS::NoValue]` (a provider a stack may leave
/// out) as the value.
fn if_deployed(v: &Value) -> Value {
    match v.get("Fn::If") {
        Some(b) if b[2] == reference("AWS::NoValue") || b[2] == "" => b[1].clone(),
        _ => v.clone(),
    }
}

/// A policy document's statements; one under `!If [c, a, b]` counts as both branches.
fn policy_statements(document: &Value) -> Vec<Value> {
    list(&document["Statement"])
        .into_iter()
        .flat_map(|s| match s.get("Fn::If") {
            Some(b) => vec![b[1].clone(), b[2].clone()],
            None => vec![s],
        })
        .filter(|s| *s != reference("AWS::NoValue"))
        .collect()
}

/// Every role under the webhook roles' IAM path, as the bucket, queue and key policies name them.
fn webhook_path() -> Value {
    sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}/webhook/*")
}

/// The account, as a key policy names it to delegate to IAM.
fn account() -> Value {
    sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
}

#[test]
fn the_webhook_roles_and_only_they_live_under_the_webhook_path() {
    let t = template();
    let path = sub("/${AWS::StackName}/webhook/");
    for (id, r) in of_type(&t, "AWS::Serverless::Function") {
        let binary = r["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_default();
        let webhook = FUNCTIONS.iter().any(|f| f.name == binary);
        assert_eq!(
            r["Properties"].get("RolePath"),
            webhook.then_some(&path),
            "{id}: a webhook function's role, and only one, under the webhook path"
        );
    }
    for (id, r) in of_type(&t, "AWS::IAM::Role") {
        assert!(r["Properties"].get("Path").is_none(), "{id} under no path");
    }
}

fn by_sid<'a>(statements: &'a [Value], sid: &str) -> Vec<&'a Value> {
    statements.iter().filter(|s| s["Sid"] == sid).collect()
}

#[test]
fn the_archive_takes_create_only_puts_from_the_webhook_roles_and_nobody_shortens_retention() {
    let t = template();
    let policy = &resource(&t, "ArchiveBucketPolicy")["Properties"]["PolicyDocument"];
    let statements = policy_statements(policy);
    let objects = sub("${ArchiveBucket.Arn}/*");
    let create_only = by_sid(&statements, "CreateOnly");
    assert_eq!(
        create_only,
        [&json!({
            "Sid": "CreateOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": objects, "Condition": {"Null": {"s3:if-none-match": "true"}},
        })],
        "S3 refuses any put that could overwrite"
    );
    let only_webhooks = by_sid(&statements, "OnlyWebhooksWrite");
    assert_eq!(
        only_webhooks,
        [&json!({
            "Sid": "OnlyWebhooksWrite", "Effect": "Deny", "Principal": "*",
            "Action": "s3:PutObject", "Resource": objects,
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": webhook_path()}},
        })],
        "the roles under the webhook path, and nobody else, write"
    );
    let retention = by_sid(&statements, "RetentionStands");
    assert_eq!(
        retention.len(),
        2,
        "with and without an archive administrator"
    );
    for s in &retention {
        assert_eq!(s["Effect"], "Deny");
        assert_eq!(s["Principal"], "*");
        assert_eq!(
            s["Action"],
            json!([
                "s3:BypassGovernanceRetention",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:PutObjectRetention"
            ]),
            "a delete marker would hide a delivery as surely as a deleted version"
        );
    }
    assert_eq!(
        retention[0]["Condition"],
        json!({"ArnNotEquals": {"aws:PrincipalArn": reference("ArchiveAdminPrincipalArn")}})
    );
    assert!(
        retention[1].get("Condition").is_none(),
        "no administrator: nobody"
    );
    let branches = &list(&policy["Statement"])
        .into_iter()
        .find(|s| s.get("Fn::If").is_some())
        .expect("the retention statement")["Fn::If"];
    assert_eq!(branches[0], "HasArchiveAdmin");
    assert_eq!(t["Parameters"]["ArchiveAdminPrincipalArn"]["Default"], "");
}

#[test]
fn only_the_operator_role_decrypts_the_archive_and_it_is_an_output() {
    let t = template();
    let key_policy = &resource(&t, "ArchiveKey")["Properties"]["KeyPolicy"];
    let statements = policy_statements(key_policy);
    for s in &statements {
        assert_eq!(s["Effect"], "Allow", "{s}");
        assert_ne!(s["Principal"], "*", "no wildcard principal: {s}");
        assert_ne!(s["Principal"]["AWS"], "*", "no wildcard principal: {s}");
        let actions = list(&s["Action"]);
        for forbidden in [
            "kms:*",
            "kms:Encrypt",
            "kms:ReEncrypt*",
            "kms:CreateGrant",
            "kms:Create*",
        ] {
            assert!(
                !actions.contains(&Value::from(forbidden)),
                "{forbidden}: {s}"
            );
        }
    }
    let decrypting: Vec<&Value> = statements
        .iter()
        .filter(|s| {
            list(&s["Action"])
                .iter()
                .any(|a| a == "kms:Decrypt" || a == "kms:Decrypt*")
        })
        .collect();
    assert_eq!(
        decrypting.len(),
        2,
        "through S3, and a sealed delivery's data key"
    );
    for s in &decrypting {
        assert_eq!(
            s["Principal"]["AWS"],
            json!([
                get_att("OperatorRole", "Arn"),
                get_att("ArchiveReplayRole", "Arn")
            ]),
            "the operator reads the archive, the replay function replays it"
        );
    }
    let via_s3 =
        json!({"StringEquals": {"kms:ViaService": sub("s3.${AWS::Region}.${AWS::URLSuffix}")}});
    let journey_context = json!({
        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": [seal::CONTEXT_KEY]},
        "Null": {format!("kms:EncryptionContext:{}", seal::CONTEXT_KEY): "false"},
    });
    assert_eq!(by_sid(&statements, "ReadThroughS3")[0]["Condition"], via_s3);
    assert_eq!(
        by_sid(&statements, "OpenDataKeys")[0]["Condition"],
        journey_context,
        "the operator opens data keys only with a journey context"
    );
    let data_keys: Vec<&Value> = statements
        .iter()
        .filter(|s| list(&s["Action"]).contains(&Value::from("kms:GenerateDataKey")))
        .collect();
    assert_eq!(data_keys.len(), 2, "for S3, and a delivery's own");
    for s in &data_keys {
        assert_eq!(list(&s["Action"]), actions(DATA_KEY_ACTIONS));
        // The account, narrowed to the webhook roles' path: IAM decides within it.
        assert_eq!(s["Principal"]["AWS"], account(), "{s}");
        assert_eq!(
            s["Condition"]["ArnLike"],
            json!({"aws:PrincipalArn": webhook_path()}),
            "the roles under the webhook path: {s}"
        );
    }
    let without_path = |s: &Value| {
        let mut c = s["Condition"].clone();
        c.as_object_mut().map(|c| c.remove("ArnLike"));
        c
    };
    assert_eq!(
        without_path(by_sid(&statements, "WriteThroughS3")[0]),
        via_s3,
        "a data key for S3 only through S3"
    );
    assert_eq!(
        without_path(by_sid(&statements, "MakeDataKeys")[0]),
        journey_context,
        "a delivery's data key only with its journey as the context, and nothing else in it"
    );
    // Each webhook role's own grants carry the same conditions, on this key alone.
    for f in FUNCTIONS {
        let own: Vec<Value> = self::statements(webhook(&t, f))
            .into_iter()
            .filter(|s| s["Action"] == "kms:GenerateDataKey")
            .collect();
        assert_eq!(own.len(), 2, "{}", f.name);
        for s in &own {
            assert_eq!(s["Resource"], get_att("ArchiveKey", "Arn"), "{}", f.name);
        }
        assert_eq!(own[0]["Condition"], via_s3, "{}", f.name);
        assert_eq!(own[1]["Condition"], journey_context, "{}", f.name);
    }
    // Deleting the key would shred every delivery: only the archive's administrator schedules it.
    let scheduling: Vec<&Value> = statements
        .iter()
        .filter(|s| {
            list(&s["Action"])
                .iter()
                .any(|a| a == "kms:ScheduleKeyDeletion" || a == "kms:*")
        })
        .collect();
    assert_eq!(scheduling.len(), 1, "{scheduling:?}");
    assert_eq!(
        scheduling[0]["Principal"]["AWS"],
        reference("ArchiveAdminPrincipalArn")
    );
    let branches = &list(&key_policy["Statement"])
        .into_iter()
        .find(|s| s["Fn::If"][1]["Sid"] == "ScheduleDeletionAsArchiveAdmin")
        .expect("a conditional statement")["Fn::If"];
    assert_eq!(
        branches[0], "HasArchiveAdmin",
        "nobody when no administrator is named"
    );
    // No role of the stack but the operator's may decrypt anything.
    for (id, r) in resources(&t) {
        if ["ArchiveKey", "OperatorPolicy", "ArchiveReplayPolicy"].contains(&id.as_str()) {
            continue;
        }
        assert!(!r.to_string().contains("kms:Decrypt"), "{id} may decrypt");
    }
    let operator =
        policy_statements(&resource(&t, "OperatorPolicy")["Properties"]["PolicyDocument"]);
    assert_eq!(
        resource(&t, "OperatorPolicy")["Properties"]["Roles"],
        json!([reference("OperatorRole")])
    );
    let granted: BTreeSet<String> = operator
        .iter()
        .flat_map(|s| list(&s["Action"]))
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    for needed in [
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:GetObject",
        "kms:Decrypt",
        "kms:GetPublicKey",
        "sqs:SendMessage",
        "dynamodb:Query",
    ] {
        assert!(granted.contains(needed), "the operator needs {needed}");
    }
    // Attestations are checked with a public key: the operator reads no secret at all (a webhook
    // secret would let whoever holds the role sign webhooks the API accepts).
    assert!(
        !granted.iter().any(|a| a.starts_with("secretsmanager:")),
        "{granted:?}"
    );
    // What `kycctl dlq` calls, on the dead-letter queue.
    assert!(operator.iter().any(|s| {
        s["Resource"] == get_att("EventsDeadLetterQueue", "Arn")
            && s["Action"]
                == json!([
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes"
                ])
    }));
    for s in &operator {
        assert!(
            !list(&s["Action"])
                .iter()
                .any(|a| a.as_str().is_some_and(|a| a.ends_with('*'))),
            "{s}"
        );
        // Read and send; on the dead-letter queue also delete what redrive recovered; on the
        // archive keys table, erase.
        let dlq = s["Resource"] == get_att("EventsDeadLetterQueue", "Arn");
        if s["Resource"] == get_att("ArchiveKeysTable", "Arn") {
            assert_eq!(list(&s["Action"]), actions(OPERATOR_KEYS_ACTIONS));
            continue;
        }
        assert!(
            !list(&s["Action"])
                .iter()
                .any(|a| a.as_str().is_some_and(|a| {
                    a.contains("Put")
                        || (a.contains("Delete") && !(dlq && a == "sqs:DeleteMessage"))
                })),
            "read, send: {s}"
        );
    }
    let trust =
        &resource(&t, "OperatorRole")["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(
        trust["Principal"]["AWS"]["Fn::If"][0],
        "HasOperatorPrincipal"
    );
    assert_eq!(
        trust["Principal"]["AWS"]["Fn::If"][1],
        reference("OperatorPrincipalArn")
    );
    assert_eq!(
        t["Outputs"]["OperatorRoleArn"]["Value"],
        get_att("OperatorRole", "Arn")
    );
}

#[test]
fn the_queue_takes_sends_from_known_roles_and_journey_senders_narrows_each_to_its_own() {
    use kyc_intake::journeys::senders::{Senders, VARIABLE};
    let t = template();
    let policy = &resource(&t, "EventsQueuePolicy")["Properties"];
    assert_eq!(policy["Queues"], json!([reference("EventsQueue")]));
    let statement = &list(&policy["PolicyDocument"]["Statement"])[0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Principal"], "*");
    assert_eq!(statement["Action"], "sqs:SendMessage");
    let allowed = statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::Split"][1]
        ["Fn::Join"][1]
        .to_string();
    let sweeper_role = role_of(&t, kyc_intake::journeys::sweeper::SWEEPER_NAME);
    assert!(
        allowed.contains(&webhook_path().to_string()),
        "the webhook roles, by their path"
    );
    for role in [sweeper_role.clone(), "OperatorRole".to_owned()] {
        assert!(
            allowed.contains(&get_att(&role, "Arn").to_string()),
            "{role} may send"
        );
    }
    assert!(allowed.contains(&reference("ApplicationPrincipalArns").to_string()));

    // JOURNEY_SENDERS as the worker reads it once the role ids are filled in.
    let worker = function(&t, worker::WORKER_NAME);
    let join = &variables(worker)[VARIABLE]["Fn::Join"];
    assert_eq!(join[0], ";");
    let text = list(&join[1])
        .iter()
        .map(if_deployed)
        .map(|part| {
            if part == reference("ApplicationSenders") {
                return String::new();
            }
            part["Fn::Sub"]
                .as_str()
                .expect("a !Sub of a role id")
                .replace(".RoleId}", "")
                .replace("${", "")
        })
        .collect::<Vec<_>>()
        .join(";");
    let senders = Senders::parse(&text).expect("the worker reads it");
    let entries: std::collections::BTreeMap<&str, BTreeSet<&str>> = text
        .split(';')
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (role, may) = e.split_once('=').expect("role=may");
            (role, may.split(',').collect())
        })
        .collect();
    for f in FUNCTIONS {
        let providers: BTreeSet<String> = f
            .sources
            .iter()
            .map(|s| format!("{}/*", s.provider))
            .collect();
        let role = role_of(&t, f.name);
        let got: BTreeSet<String> = entries[role.as_str()]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            got, providers,
            "{}: its own providers' sources only",
            f.name
        );
    }
    assert_eq!(
        entries[sweeper_role.as_str()],
        ["kyc.journey.reconciled", "kyc.journey.stalled"]
            .into_iter()
            .collect()
    );
    // A person may start a journey, never send a replay: the function's role alone does.
    assert_eq!(
        entries["OperatorRole"],
        ["kyc.journey.started"].into_iter().collect()
    );
    assert_eq!(
        entries["ArchiveReplayRole"],
        ["replay"].into_iter().collect()
    );
    assert_eq!(
        entries.len(),
        FUNCTIONS.len() + 3,
        "nobody else: {senders:?}"
    );
    assert!(
        allowed.contains(&get_att("ArchiveReplayRole", "Arn").to_string()),
        "the replay function may send"
    );
    // The review's forgery: the operator's credentials send a made-up decision marked as a
    // replay. The worker, reading the template's own list, refuses it; the same record from the
    // replay function's role is taken, and that role may send nothing unmarked.
    let vkyc = kyc_intake::sources::registry::source("cashfree/vkyc").expect("a source");
    let start: kyc_intake::KycEvent = serde_json::from_str(
        &kyc_intake::journeys::completeness::started(vkyc, "test333", None, chrono::Utc::now())
            .expect("a start")
            .body,
    )
    .expect("an event");
    let mut forged = start.clone();
    forged.event_type = "kyc.vkyc.auditor_review_completed".to_owned();
    forged.source = vkyc.name.to_owned();
    forged.kycreplay = Some("r1".to_owned());
    assert!(senders
        .check(Some("OperatorRole:alice"), &forged, true)
        .is_err());
    assert!(senders
        .check(Some("OperatorRole:alice"), &forged, false)
        .is_err());
    assert!(senders
        .check(Some("OperatorRole:alice"), &start, false)
        .is_ok());
    assert!(senders
        .check(Some("ArchiveReplayRole:archive-replay"), &forged, true)
        .is_ok());
    let mut unmarked = forged.clone();
    unmarked.kycreplay = None;
    assert!(senders
        .check(Some("ArchiveReplayRole:archive-replay"), &unmarked, false)
        .is_err());
    // The alarms on what the worker refuses and on a sweeper that never finishes.
    for (alarm, metric) in [
        ("RefusedSenderAlarm", "RefusedSender"),
        ("RefusedInvalidAlarm", "RefusedInvalid"),
    ] {
        let refused = &resource(&t, alarm)["Properties"];
        assert_eq!(
            (
                refused["MetricName"].as_str(),
                refused["Statistic"].as_str()
            ),
            (Some(metric), Some("Sum")),
            "{alarm}"
        );
    }
    let incomplete = &resource(&t, "SweepIncompleteAlarm")["Properties"];
    assert_eq!(
        (
            incomplete["MetricName"].as_str(),
            incomplete["Statistic"].as_str(),
            incomplete["Period"].as_i64()
        ),
        (Some("SweepIncomplete"), Some("Minimum"), Some(3600)),
        "every run of an hour incomplete"
    );
    assert_eq!(incomplete["Threshold"], 1);
}

#[test]
fn every_function_has_a_log_group_and_its_alarms_deployed_with_it() {
    let t = template();
    let functions = of_type(&t, "AWS::Serverless::Function");
    // The webhook functions, the worker, the sweeper and archive-replay.
    assert_eq!(functions.len(), FUNCTIONS.len() + 3);
    for (id, function) in functions {
        let name = id.strip_suffix("Function").expect("<Name>Function");
        let condition = function.get("Condition");
        if let Some(c) = condition {
            assert!(
                t["Conditions"]
                    .get(c.as_str().unwrap_or_default())
                    .is_some(),
                "{id}"
            );
        }
        let logs = resource(&t, &format!("{name}LogGroup"));
        assert_eq!(logs["Type"], "AWS::Logs::LogGroup");
        assert_eq!(logs.get("Condition"), condition, "{id}");
        assert_eq!(
            logs["Properties"]["LogGroupName"],
            sub(&format!("/aws/lambda/${{{id}}}"))
        );
        for metric in ["Errors", "Throttles"] {
            let alarm = resource(&t, &format!("{name}{metric}Alarm"));
            assert_eq!(alarm["Type"], "AWS::CloudWatch::Alarm");
            assert_eq!(alarm.get("Condition"), condition, "{id}");
            let p = &alarm["Properties"];
            assert_eq!(p["Namespace"], "AWS/Lambda");
            assert_eq!(p["MetricName"], metric);
            assert_eq!(
                p["Dimensions"],
                json!([{ "Name": "FunctionName", "Value": reference(id) }])
            );
            assert!(
                p["AlarmDescription"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{id} {metric}"
            );
        }
    }
}

#[test]
fn sam_cli_builds_the_template_as_written_and_the_deploy_asks_only_for_the_change_set() {
    let t = template();
    assert_eq!(
        t["Transform"],
        json!("AWS::Serverless-2016-10-31"),
        "the generator writes each function's resources: no loop to expand"
    );
    let text = std::fs::read_to_string(workspace().join("samconfig.toml")).expect("samconfig");
    let config: toml::Table = text.parse().expect("samconfig.toml is TOML");
    let deploy = &config["default"]["deploy"]["parameters"];
    let capabilities = deploy["capabilities"]
        .as_str()
        .expect("deploy capabilities");
    let capabilities: BTreeSet<&str> = capabilities.split_whitespace().collect();
    assert_eq!(
        capabilities,
        BTreeSet::from(["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    );
    assert_eq!(deploy["confirm_changeset"], toml::Value::Boolean(true));
    assert_eq!(deploy["resolve_s3"], toml::Value::Boolean(true));
    assert!(
        deploy.get("parameter_overrides").is_none(),
        "no parameter is asked or pinned"
    );
    assert!(config["default"]["global"]["parameters"]
        .get("stack_name")
        .is_some_and(|n| n.as_str().is_some_and(|n| !n.is_empty())));
    // Every parameter has a default: `sam deploy` asks for none.
    for (name, p) in t["Parameters"].as_object().expect("parameters") {
        assert!(
            p.get("Default").is_some(),
            "{name} has no default: a deploy would ask for it"
        );
    }
    let makefile = std::fs::read_to_string(workspace().join("Makefile")).expect("Makefile");
    let deploy_rule = makefile
        .split("\ndeploy:")
        .nth(1)
        .and_then(|r| r.split("\n\n").next())
        .expect("a deploy rule");
    assert!(!deploy_rule.contains("--guided --"), "{deploy_rule}");
    assert!(
        deploy_rule.contains("$(if $(GUIDED),--guided)"),
        "{deploy_rule}"
    );
    assert!(
        deploy_rule.contains("--no-confirm-changeset"),
        "CONFIRM=0: {deploy_rule}"
    );
}

#[test]
fn the_operations_guide_explains_every_alarm_the_template_declares() {
    let t = template();
    let declared: BTreeSet<String> = of_type(&t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, _)| id.clone())
        .collect();
    let guide =
        std::fs::read_to_string(workspace().join("docs/operations.md")).expect("operations.md");
    let section = guide
        .split("## Alarms: what each means and what to do")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the alarms section");
    let explained: BTreeSet<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|line| line.split(" |").next())
        .flat_map(|names| names.split(", "))
        .map(|name| name.trim_matches('`').to_owned())
        .collect();
    assert_eq!(explained, declared);
}

#[test]
fn the_journey_stream_fans_out_to_an_application_queue_only_the_topic_sends_to() {
    let t = template();
    let topic = resource(&t, "JourneyStreamTopic");
    assert_eq!(topic["Type"], "AWS::SNS::Topic");
    assert_eq!(topic["Condition"], "JourneyWorkerDeployed");
    let p = &topic["Properties"];
    assert_eq!(p["FifoTopic"], true);
    assert_eq!(
        p["ContentBasedDeduplication"], false,
        "the event id is the deduplication id"
    );
    assert_eq!(p["FifoThroughputScope"], "MessageGroup");
    assert!(p["KmsMasterKeyId"].is_string(), "encrypted at rest");
    assert!(
        p["TopicName"].to_string().contains(".fifo"),
        "a FIFO topic's name ends in .fifo"
    );

    let queue = &resource(&t, "ApplicationQueue")["Properties"];
    assert_eq!(queue["FifoQueue"], true);
    assert_eq!(queue["SqsManagedSseEnabled"], true);
    assert_eq!(
        queue["MaximumMessageSize"],
        json!(kyc_intake::journeys::stream::MAX_MESSAGE_BYTES),
        "the topic's largest message"
    );
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"],
        get_att("ApplicationDeadLetterQueue", "Arn")
    );
    let dlq = &resource(&t, "ApplicationDeadLetterQueue")["Properties"];
    assert_eq!(dlq["FifoQueue"], true);
    assert_eq!(dlq["MaximumMessageSize"], queue["MaximumMessageSize"]);
    let alarm = &resource(&t, "ApplicationDeadLetterQueueAlarm")["Properties"];
    assert_eq!(
        alarm["Dimensions"][0]["Value"],
        get_att("ApplicationDeadLetterQueue", "QueueName")
    );

    let subscription = &resource(&t, "ApplicationSubscription")["Properties"];
    assert_eq!(subscription["TopicArn"], reference("JourneyStreamTopic"));
    assert_eq!(subscription["Protocol"], "sqs");
    assert_eq!(subscription["Endpoint"], get_att("ApplicationQueue", "Arn"));
    assert_eq!(
        subscription["RawMessageDelivery"], true,
        "the event itself, no envelope"
    );
    assert_eq!(subscription["FilterPolicyScope"], "MessageAttributes");
    assert_eq!(
        subscription["FilterPolicy"],
        json!({ "Fn::If": [
            "HasApplicationEventTypes",
            { "type": { "Fn::Split": [",", reference("ApplicationEventTypes")] } },
            reference("AWS::NoValue"),
        ] }),
        "filtered on the `type` attribute the worker sets, when ApplicationEventTypes says"
    );

    // Only the topic sends to the application queue.
    let policy = &resource(&t, "ApplicationQueuePolicy")["Properties"];
    assert_eq!(policy["Queues"], json!([reference("ApplicationQueue")]));
    let statements = policy_statements(&policy["PolicyDocument"]);
    let allow = by_sid(&statements, "TheJourneyStreamSends");
    assert_eq!(allow.len(), 1);
    assert_eq!(
        allow[0]["Principal"],
        json!({ "Service": "sns.amazonaws.com" })
    );
    assert_eq!(allow[0]["Action"], "sqs:SendMessage");
    assert_eq!(
        allow[0]["Condition"]["ArnEquals"]["aws:SourceArn"],
        reference("JourneyStreamTopic")
    );
    let deny = by_sid(&statements, "OnlyTheJourneyStreamSends");
    assert_eq!(deny.len(), 1);
    assert_eq!(deny[0]["Effect"], "Deny");
    assert_eq!(deny[0]["Principal"], "*");
    assert_eq!(
        deny[0]["Condition"]["ArnNotEquals"]["aws:SourceArn"],
        reference("JourneyStreamTopic")
    );

    // Deployed with the worker, and said in the outputs.
    for id in [
        "ApplicationQueue",
        "ApplicationDeadLetterQueue",
        "ApplicationQueuePolicy",
        "ApplicationSubscription",
        "ApplicationDeadLetterQueueAlarm",
    ] {
        assert_eq!(
            resource(&t, id)["Condition"],
            "JourneyWorkerDeployed",
            "{id}"
        );
    }
    assert_eq!(
        t["Outputs"]["ApplicationQueueUrl"]["Value"],
        reference("ApplicationQueue")
    );
    assert_eq!(
        t["Outputs"]["JourneyStreamTopicArn"]["Value"],
        reference("JourneyStreamTopic")
    );
}

#[test]
fn only_each_queues_reader_takes_from_it_and_nobody_sends_to_the_dead_letter_queue() {
    let t = template();
    let takes = json!([
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:PurgeQueue"
    ]);
    let events =
        policy_statements(&resource(&t, "EventsQueuePolicy")["Properties"]["PolicyDocument"]);
    let worker_reads = by_sid(&events, "OnlyTheWorkerReads");
    assert_eq!(worker_reads.len(), 1);
    assert_eq!(worker_reads[0]["Effect"], "Deny");
    assert_eq!(worker_reads[0]["Principal"], "*");
    assert_eq!(worker_reads[0]["Action"], takes);
    assert_eq!(
        worker_reads[0]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"],
        get_att("JourneyWorkerFunctionRole", "Arn")
    );
    let document = &resource(&t, "EventsQueuePolicy")["Properties"]["PolicyDocument"];
    let conditional = list(&document["Statement"])
        .into_iter()
        .find(|s| s.get("Fn::If").is_some())
        .expect("deployed with the worker");
    assert_eq!(
        conditional["Fn::If"][0], "JourneyWorkerDeployed",
        "without the worker, your own workers read it"
    );

    let policy = &resource(&t, "EventsDeadLetterQueuePolicy")["Properties"];
    assert_eq!(
        policy["Queues"],
        json!([reference("EventsDeadLetterQueue")])
    );
    let dlq = policy_statements(&policy["PolicyDocument"]);
    let nobody = by_sid(&dlq, "NobodySends");
    assert_eq!(nobody.len(), 1);
    assert_eq!(
        (
            nobody[0]["Effect"].as_str(),
            nobody[0]["Principal"].as_str()
        ),
        (Some("Deny"), Some("*"))
    );
    assert_eq!(nobody[0]["Action"], "sqs:SendMessage");
    assert!(nobody[0].get("Condition").is_none(), "nobody at all");
    let operator_reads = by_sid(&dlq, "OnlyTheOperatorReads");
    assert_eq!(operator_reads.len(), 1);
    assert_eq!(operator_reads[0]["Action"], takes);
    assert_eq!(
        operator_reads[0]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"],
        get_att("OperatorRole", "Arn")
    );

    // Only the events queue may name the dead-letter queue as its own: its ARN is built from the
    // name the events queue is given (GetAtt would be a circular reference).
    let events_queue = &resource(&t, "EventsQueue")["Properties"];
    assert_eq!(
        events_queue["QueueName"],
        sub("${AWS::StackName}-events.fifo")
    );
    assert_eq!(
        resource(&t, "EventsQueue")["UpdateReplacePolicy"],
        "Retain",
        "a renamed queue is kept with its messages"
    );
    assert_eq!(
        resource(&t, "EventsDeadLetterQueue")["Properties"]["RedriveAllowPolicy"],
        json!({
            "redrivePermission": "byQueue",
            "sourceQueueArnList": [sub(
                "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-events.fifo"
            )]
        })
    );
    assert_eq!(
        events_queue["RedrivePolicy"]["deadLetterTargetArn"],
        get_att("EventsDeadLetterQueue", "Arn")
    );
}

#[test]
fn the_archive_signing_key_signs_for_the_webhook_roles_alone_and_the_operator_checks_with_it() {
    let t = template();
    let key = resource(&t, "ArchiveSigningKey");
    assert_eq!(key["Condition"], "HasArchive");
    assert_eq!(
        key["DeletionPolicy"], "Retain",
        "kept as long as the archive"
    );
    assert_eq!(key["Properties"]["KeySpec"], "ECC_NIST_P256");
    assert_eq!(key["Properties"]["KeyUsage"], "SIGN_VERIFY");
    let statements = policy_statements(&key["Properties"]["KeyPolicy"]);
    let uses = ["kms:Sign", "kms:Verify", "kms:GetPublicKey"];
    let mut signers = Vec::new();
    let mut checkers = Vec::new();
    for s in &statements {
        assert_eq!(s["Effect"], "Allow", "{s}");
        let actions = list(&s["Action"]);
        for a in &actions {
            let a = a.as_str().unwrap_or_default();
            assert!(
                !a.contains('*') || a == "kms:List*",
                "no wildcard action that could sign or read: {s}"
            );
        }
        if actions.iter().any(|a| a == "kms:Sign") {
            assert_eq!(
                actions,
                json!(SIGNING_ACTIONS)
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            );
            assert_eq!(
                s["Condition"],
                json!({"ArnLike": {"aws:PrincipalArn": webhook_path()}}),
                "{s}"
            );
            signers.extend(list(&s["Principal"]["AWS"]));
        } else if actions
            .iter()
            .any(|a| uses.contains(&a.as_str().unwrap_or_default()))
        {
            checkers.push((s["Principal"]["AWS"].clone(), s["Action"].clone()));
        }
    }
    assert_eq!(
        signers,
        vec![account()],
        "kms:Sign delegated to IAM for the webhook path alone"
    );
    assert_eq!(
        checkers,
        vec![
            (
                get_att("OperatorRole", "Arn"),
                json!(["kms:GetPublicKey", "kms:Verify"])
            ),
            (
                get_att("ArchiveReplayRole", "Arn"),
                json!(kyc_intake::replay::SIGNING_KEY_ACTIONS[0])
            ),
        ],
        "the operator checks attestations; replay reads the public half and checks them itself"
    );
    // Nothing else in the stack may sign with any key: the webhook functions, each on this key
    // with the algorithm the code uses.
    let webhooks: BTreeSet<String> = FUNCTIONS
        .iter()
        .map(|f| role_of(&t, f.name).trim_end_matches("Role").to_owned())
        .collect();
    for (id, r) in resources(&t) {
        if webhooks.contains(id.as_str()) {
            let signing: Vec<Value> = self::statements(r)
                .into_iter()
                .filter(|s| s.to_string().contains("kms:Sign"))
                .collect();
            assert_eq!(
                signing,
                [json!({
                    "Effect": "Allow", "Action": "kms:Sign",
                    "Resource": get_att("ArchiveSigningKey", "Arn"),
                    "Condition": {"StringEquals": {
                        "kms:SigningAlgorithm": "ECDSA_SHA_256", "kms:MessageType": "RAW"}},
                })],
                "{id}"
            );
        } else if id != "ArchiveSigningKey" {
            assert!(!r.to_string().contains("kms:Sign"), "{id} may sign");
        }
    }
    for f in FUNCTIONS {
        assert_eq!(
            variables(webhook(&t, f))[var::ARCHIVE_SIGNING_KEY_ID],
            json!({"Fn::If": ["HasArchive", get_att("ArchiveSigningKey", "Arn"), ""]}),
            "{}",
            f.name
        );
    }
    assert_eq!(
        t["Outputs"]["ArchiveSigningKeyArn"]["Value"],
        get_att("ArchiveSigningKey", "Arn")
    );
}

#[test]
fn a_new_policy_or_a_scheduled_deletion_of_either_archive_key_raises_an_alarm() {
    let t = template();
    let rule = resource(&t, "ArchiveKeyChangeRule");
    assert_eq!(rule["Type"], "AWS::Events::Rule");
    assert_eq!(rule["Condition"], "HasArchive");
    let p = &rule["Properties"];
    assert_eq!(p["State"], "ENABLED");
    assert_eq!(
        p["EventPattern"],
        json!({
            "source": ["aws.kms"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["kms.amazonaws.com"],
                "eventName": ["PutKeyPolicy", "ScheduleKeyDeletion"],
                "resources": {"ARN": [get_att("ArchiveKey", "Arn"), get_att("ArchiveSigningKey", "Arn")]},
            },
        })
    );
    // Both keys keep the administrators' way back, which is what the rule watches.
    for key in ["ArchiveKey", "ArchiveSigningKey"] {
        let admin = policy_statements(&resource(&t, key)["Properties"]["KeyPolicy"])
            .into_iter()
            .find(|s| s["Sid"] == "Administer")
            .expect("Administer");
        let actions = list(&admin["Action"]);
        assert!(
            actions.contains(&json!("kms:PutKeyPolicy")) || actions.contains(&json!("kms:Put*")),
            "{key}"
        );
    }
    let alarm = resource(&t, "ArchiveKeyChangeAlarm");
    assert_eq!(alarm["Condition"], "HasArchive");
    let a = &alarm["Properties"];
    assert_eq!(
        (a["Namespace"].as_str(), a["MetricName"].as_str()),
        (Some("AWS/Events"), Some("TriggeredRules"))
    );
    assert_eq!(
        a["Dimensions"],
        json!([{"Name": "RuleName", "Value": reference("ArchiveKeyChangeRule")}])
    );
    assert_eq!(
        (a["Threshold"].as_i64(), a["ComparisonOperator"].as_str()),
        (Some(0), Some("GreaterThanThreshold"))
    );
}

/// Replay is a function, not a person's right: no route, invoked by the operator role alone, its
/// role (assumable by Lambda alone) the only one that may send replays, and granted exactly what
/// replay calls.
#[test]
fn the_replay_function_alone_sends_replays_and_its_role_gets_what_replay_calls() {
    use kyc_intake::replay;
    let t = template();
    let function = resource(&t, "ArchiveReplayFunction");
    assert_eq!(function["Condition"], "HasArchive");
    assert!(
        function["Properties"].get("Events").is_none(),
        "no route, no schedule"
    );
    assert_eq!(
        function["Properties"]["Role"],
        get_att("ArchiveReplayRole", "Arn")
    );
    assert!(function["Properties"]["ReservedConcurrentExecutions"].is_number());
    let timeout = function["Properties"]["Timeout"]
        .as_u64()
        .expect("a timeout");
    assert!(
        timeout > replay::request::WORK.as_secs() + 10,
        "a call answers its continue token before the function times out"
    );
    let v = variables(function);
    assert_eq!(v[var::ARCHIVE_BUCKET], reference("ArchiveBucket"));
    assert_eq!(
        v[var::ARCHIVE_SIGNING_KEY_ID],
        get_att("ArchiveSigningKey", "Arn")
    );
    assert_eq!(
        v[var::ARCHIVE_KEYS_TABLE],
        json!({"Fn::If": ["HasErasableArchive", reference("ArchiveKeysTable"), ""]})
    );
    // Lambda alone assumes the role: no person holds it.
    let role = &resource(&t, "ArchiveReplayRole")["Properties"];
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"],
        json!([{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}])
    );
    assert!(
        role.get("Path").is_none(),
        "not under the webhook roles' path"
    );
    assert!(
        role.get("Policies").is_none(),
        "its permissions are ArchiveReplayPolicy"
    );
    let policy = &resource(&t, "ArchiveReplayPolicy")["Properties"];
    assert_eq!(policy["Roles"], json!([reference("ArchiveReplayRole")]));
    let granted: Vec<(Value, Value)> = policy_statements(&policy["PolicyDocument"])
        .into_iter()
        .filter(|s| *s != reference("AWS::NoValue"))
        .map(|s| {
            assert_eq!(s["Effect"], "Allow", "{s}");
            assert!(s.get("Condition").is_none(), "{s}");
            (s["Resource"].clone(), json!(list(&s["Action"])))
        })
        .collect();
    assert_eq!(
        granted,
        vec![
            (
                get_att("ArchiveBucket", "Arn"),
                json!(replay::BUCKET_ACTIONS)
            ),
            (
                sub("${ArchiveBucket.Arn}/deliveries/*"),
                json!(replay::DELIVERY_ACTIONS)
            ),
            (
                get_att("ArchiveKey", "Arn"),
                json!(replay::ARCHIVE_KEY_ACTIONS)
            ),
            (
                get_att("ArchiveSigningKey", "Arn"),
                json!(replay::SIGNING_KEY_ACTIONS)
            ),
            (
                get_att("ArchiveKeysTable", "Arn"),
                json!(replay::KEYS_TABLE_ACTIONS)
            ),
            (get_att("EventsQueue", "Arn"), json!(SQS_ACTIONS)),
        ]
    );
    // The operator invokes it, and only it.
    let operator =
        policy_statements(&resource(&t, "OperatorPolicy")["Properties"]["PolicyDocument"]);
    let invokes: Vec<&Value> = operator
        .iter()
        .filter(|s| {
            list(&s["Action"])
                .iter()
                .any(|a| a.as_str().is_some_and(|a| a.starts_with("lambda:")))
        })
        .collect();
    assert_eq!(invokes.len(), 1);
    assert_eq!(invokes[0]["Action"], "lambda:InvokeFunction");
    assert_eq!(
        invokes[0]["Resource"],
        get_att("ArchiveReplayFunction", "Arn")
    );
    assert_eq!(
        t["Outputs"]["ArchiveReplayFunctionName"]["Value"],
        reference("ArchiveReplayFunction")
    );
}

#[test]
fn every_function_is_traced_actively() {
    let t = template();
    assert_eq!(
        t["Globals"]["Function"]["Tracing"], "Active",
        "Lambda samples each invocation and hands it the trace header the events carry on"
    );
    for (id, r) in of_type(&t, "AWS::Serverless::Function") {
        assert!(
            r["Properties"].get("Tracing").is_none(),
            "{id} overrides the global tracing"
        );
        // SAM attaches AWSXrayWriteOnlyAccess to a function's generated role when tracing is
        // Active; a role of our own needs it listed.
        if let Some(role) = r["Properties"].get("Role") {
            let role = role["Fn::GetAtt"]
                .get(0)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{id}: a role of the template"));
            let managed = resource(&t, role)["Properties"]["ManagedPolicyArns"].to_string();
            assert!(
                managed.contains("AWSXRayDaemonWriteAccess"),
                "{id} brings its own role: give it xray:PutTraceSegments and xray:PutTelemetryRecords"
            );
        }
    }
}

#[test]
fn every_webhook_function_may_get_reserved_concurrency() {
    let t = template();
    for f in FUNCTIONS {
        let (id, _) = resources(&t)
            .iter()
            .find(|(_, r)| r["Metadata"]["BuildProperties"]["Binary"] == f.name)
            .expect("a function");
        let parameter = format!("{}ReservedConcurrency", id.trim_end_matches("Function"));
        assert_eq!(
            resource(&t, id)["Properties"]["ReservedConcurrentExecutions"],
            json!({"Fn::If": [format!("Has{parameter}"), reference(&parameter), reference("AWS::NoValue")]}),
            "{id}: its throttles alarm says to raise it"
        );
        assert_eq!(t["Parameters"][&parameter]["Default"], 0, "{parameter}");
    }
}

#[test]
fn the_archive_keys_table_is_keyed_by_journey_hash_recoverable_for_a_set_window_and_optional() {
    let t = template();
    let table = resource(&t, "ArchiveKeysTable");
    assert_eq!(table["Condition"], "HasErasableArchive");
    assert_eq!(table["DeletionPolicy"], "Retain");
    let p = &table["Properties"];
    assert_eq!(
        pairs(&p["AttributeDefinitions"], "AttributeType"),
        owned(&[(keys_attr::PK, "S"), (keys_attr::SK, "S")])
    );
    assert_eq!(
        pairs(&p["KeySchema"], "KeyType"),
        owned(&[(keys_attr::PK, "HASH"), (keys_attr::SK, "RANGE")])
    );
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(p["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(p["DeletionProtectionEnabled"], true);
    assert_eq!(
        p["PointInTimeRecoverySpecification"],
        json!({"PointInTimeRecoveryEnabled": true,
               "RecoveryPeriodInDays": reference("ArchiveKeysRecoveryDays")}),
        "the window after which an erasure is complete, set explicitly"
    );
    assert!(p.get("TimeToLiveSpecification").is_none(), "a key is kept");
    assert_eq!(
        p["Tags"],
        json!([{"Key": "kyc-intake:backup", "Value": "exclude"}])
    );
    let days = &t["Parameters"]["ArchiveKeysRecoveryDays"];
    assert_eq!(
        (&days["Default"], &days["MinValue"], &days["MaxValue"]),
        (&json!(35), &json!(1), &json!(35))
    );
    // Off: no table, and the functions are told none (SSE-KMS only).
    assert_eq!(t["Parameters"]["ArchiveErasable"]["Default"], "true");
    assert_eq!(
        t["Conditions"]["HasErasableArchive"],
        json!({"Fn::And": [{"Condition": "HasArchive"},
                           {"Fn::Equals": [reference("ArchiveErasable"), "true"]}]})
    );
    for f in FUNCTIONS {
        let v = variables(webhook(&t, f));
        assert_eq!(
            v[var::ARCHIVE_KEYS_TABLE],
            json!({"Fn::If": ["HasErasableArchive", reference("ArchiveKeysTable"), ""]}),
            "{}",
            f.name
        );
        assert_eq!(
            v[var::ARCHIVE_KMS_KEY_ID],
            json!({"Fn::If": ["HasErasableArchive", get_att("ArchiveKey", "Arn"), ""]}),
            "{}",
            f.name
        );
    }
    // Nobody else reads or writes it: the webhook roles keep key items, the operator erases.
    for (id, r) in resources(&t) {
        let named = r.to_string().contains("ArchiveKeysTable");
        let allowed = [
            "ArchiveKeysTable",
            "OperatorPolicy",
            "ArchiveReplayPolicy",
            "ArchiveReplayFunction",
        ]
        .contains(&id.as_str())
            || FUNCTIONS.iter().any(|f| webhook(&t, f) == r);
        assert!(!named || allowed, "{id} names the archive keys table");
    }
    let operator =
        policy_statements(&resource(&t, "OperatorPolicy")["Properties"]["PolicyDocument"]);
    let journey_writes: Vec<&Value> = operator
        .iter()
        .filter(|s| s["Resource"] == get_att("JourneyTable", "Arn"))
        .filter(|s| list(&s["Action"]).contains(&Value::from("dynamodb:UpdateItem")))
        .collect();
    assert_eq!(journey_writes.len(), 1);
    assert_eq!(
        journey_writes[0]["Condition"],
        json!({"ForAllValues:StringEquals": {"dynamodb:Attributes": JOURNEY_ERASURE_ATTRIBUTES}}),
        "an erasure drops archive links from the history and writes nothing else"
    );
    assert_eq!(
        t["Outputs"]["ArchiveKeysTableName"]["Value"],
        reference("ArchiveKeysTable")
    );
}
