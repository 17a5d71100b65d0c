//! `template.yaml` and the code cannot drift: the environment variables, routes, binaries, table
//! key, TTL attribute and IAM actions the template declares are exactly the ones the code uses.

use kyc_intake::archive;
use kyc_intake::aws::{ARCHIVE_ACTIONS, JOURNEY_TABLE_ACTIONS, SQS_ACTIONS, WORKER_SQS_ACTIONS};
use kyc_intake::config::var;
use kyc_intake::journey;
use kyc_intake::registry::{FunctionSpec, FUNCTIONS};
use kyc_intake::secrets_manager;
use kyc_intake_tests::workspace;
use lambda_idempotency::{attr, DYNAMODB_ACTIONS};
use std::collections::BTreeSet;

fn template() -> String {
    std::fs::read_to_string(workspace().join("template.yaml")).expect("template.yaml")
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Keys of every `Variables:` block in `lines`.
fn env_vars(lines: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "Variables:" {
            continue;
        }
        let base = indent(line);
        for l in lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || indent(l) > base)
        {
            if let Some((k, _)) = l.trim().split_once(':') {
                out.insert(k.to_owned());
            }
        }
    }
    out
}

/// The lines of the first block at indent `depth` (a top-level section at 0, a resource at 2)
/// for which `starts` holds.
fn block(t: &str, starts: impl Fn(&[&str]) -> bool, depth: usize) -> Vec<&str> {
    let lines: Vec<&str> = t.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if indent(l) == depth && !l.trim().is_empty() {
            let end = lines[i + 1..]
                .iter()
                .position(|l| !l.trim().is_empty() && indent(l) <= depth)
                .map_or(lines.len(), |p| i + 1 + p);
            if starts(&lines[i..end]) {
                return lines[i..end].to_vec();
            }
            i = end;
        } else {
            i += 1;
        }
    }
    Vec::new()
}

fn globals(t: &str) -> Vec<&str> {
    block(t, |b| b[0].trim() == "Globals:", 0)
}

/// The template resource that builds `function`'s binary.
fn resource_of<'t>(t: &'t str, function: &FunctionSpec) -> Vec<&'t str> {
    let marker = format!("Binary: {}", function.name);
    let found = block(t, |b| b.iter().any(|l| l.trim() == marker), 2);
    assert!(!found.is_empty(), "no resource builds {}", function.name);
    found
}

/// Values of `key: value` lines anywhere.
fn values(t: &str, key: &str) -> Vec<String> {
    t.lines()
        .filter_map(|l| {
            l.trim()
                .trim_start_matches("- ")
                .strip_prefix(&format!("{key}:"))
        })
        .map(|v| v.trim().to_owned())
        .collect()
}

#[test]
fn environment_variables_match_per_function() {
    let t = template();
    let common: BTreeSet<String> = var::COMMON.iter().map(|v| (*v).to_owned()).collect();
    assert_eq!(
        env_vars(&globals(&t)),
        common,
        "Globals: the common settings"
    );
    for f in FUNCTIONS {
        let own: BTreeSet<String> = f
            .variables
            .iter()
            .map(|v| (*v).to_owned())
            .chain(
                f.secret_variables
                    .iter()
                    .map(|v| secrets_manager::id_variable(v)),
            )
            // Whoever may read Secrets Manager is told how long a value may be used.
            .chain(
                (!f.secret_variables.is_empty())
                    .then(|| secrets_manager::MAX_AGE_VARIABLE.to_owned()),
            )
            .chain(var::WEBHOOK.iter().map(|v| (*v).to_owned()))
            .collect();
        assert_eq!(env_vars(&resource_of(&t, f)), own, "{}", f.name);
    }
}

#[test]
fn routes_match_per_function_and_are_post() {
    let t = template();
    let mut all = 0;
    for f in FUNCTIONS {
        let lines = resource_of(&t, f).join("\n");
        let paths: BTreeSet<String> = values(&lines, "Path").into_iter().collect();
        let routes: BTreeSet<String> = f.sources.iter().map(|s| s.route.to_owned()).collect();
        assert_eq!(paths, routes, "{}", f.name);
        let methods = values(&lines, "Method");
        assert_eq!(methods.len(), paths.len(), "{}", f.name);
        assert!(methods.iter().all(|m| m == "POST"));
        all += paths.len();
    }
    assert_eq!(
        values(&t, "Path").len(),
        all,
        "no route outside the functions"
    );
}

#[test]
fn binaries_match_the_function_crates() {
    let t = template();
    let binaries: BTreeSet<String> = values(&t, "Binary").into_iter().collect();
    let registered: BTreeSet<String> = FUNCTIONS
        .iter()
        .map(|f| f.name)
        .chain([journey::WORKER_NAME, kyc_intake::sweeper::SWEEPER_NAME])
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
        let bin = manifest
            .split("[[bin]]")
            .nth(1)
            .and_then(|b| b.lines().find_map(|l| l.trim().strip_prefix("name = ")))
            .expect("a [[bin]] name");
        crates.insert(bin.trim_matches('"').to_owned());
    }
    assert_eq!(binaries, crates);
    assert!(values(&t, "BuildMethod")
        .iter()
        .all(|m| m == "rust-cargolambda"));
}

#[test]
fn table_key_and_ttl_match() {
    let t = template();
    let block_of = |name: &str| block(&t, |b| b[0].trim() == format!("{name}:"), 2).join("\n");
    let idempotency = block_of("IdempotencyTable");
    assert_eq!(
        values(&idempotency, "AttributeName"),
        [attr::PK, attr::PK, attr::EXPIRES_AT],
        "definition, key schema, TTL"
    );
    let journeys = block_of("JourneyTable");
    let (pk, shard, due) = (
        journey::attr::PK,
        journey::attr::SWEEP_SHARD,
        journey::attr::DUE_AT,
    );
    assert_eq!(
        values(&journeys, "AttributeName"),
        [pk, shard, due, pk, shard, due],
        "definitions, key schema, the due index's key schema; no TTL: a journey's state is kept"
    );
    assert_eq!(values(&journeys, "KeyType"), ["HASH", "HASH", "RANGE"]);
    assert_eq!(values(&journeys, "AttributeType"), ["S", "S", "N"]);
    assert_eq!(values(&idempotency, "KeyType"), ["HASH"]);
    assert_eq!(values(&idempotency, "AttributeType"), ["S"]);
    for table in [&idempotency, &journeys] {
        assert_eq!(values(table, "SSEEnabled"), ["true"]);
        assert_eq!(values(table, "PointInTimeRecoveryEnabled"), ["true"]);
        assert_eq!(values(table, "BillingMode"), ["PAY_PER_REQUEST"]);
    }
}

/// `Action:` values as lists.
fn action_list(actions: &[&str]) -> String {
    if actions.len() == 1 {
        actions[0].to_owned()
    } else {
        format!("[{}]", actions.join(", "))
    }
}

#[test]
fn iam_actions_are_exactly_what_the_code_calls() {
    let t = template();
    let ddb = action_list(DYNAMODB_ACTIONS);
    let sqs = action_list(SQS_ACTIONS);
    let webhook = [
        (ddb.clone(), "!GetAtt IdempotencyTable.Arn"),
        (sqs, "!GetAtt EventsQueue.Arn"),
    ];
    for f in FUNCTIONS {
        let block = resource_of(&t, f);
        let lines = block.join("\n");
        let got: Vec<(String, String)> = values(&lines, "Action")
            .into_iter()
            .zip(values(&lines, "Resource"))
            .collect();
        // The secrets it may read: exactly those its `<X>_SECRET_ID` variables name.
        let refs: Vec<String> = f
            .secret_variables
            .iter()
            .map(|v| {
                let line = block
                    .iter()
                    .find(|l| {
                        l.trim()
                            .starts_with(&format!("{}:", secrets_manager::id_variable(v)))
                    })
                    .expect("the _SECRET_ID variable");
                let reference = line
                    .split("!Ref ")
                    .nth(1)
                    .and_then(|r| r.split(',').next())
                    .expect("a !Ref");
                format!("!Ref {reference}")
            })
            .collect();
        let mut want: Vec<(String, String)> = webhook
            .iter()
            .map(|(a, r)| (a.clone(), (*r).to_owned()))
            .collect();
        // The archive: its own sources' prefixes only, and the archive's key.
        let prefixes: Vec<String> = f
            .sources
            .iter()
            .map(|s| {
                format!(
                    "!Sub \"${{ArchiveBucket.Arn}}/{}/{}/*\"",
                    archive::PREFIX,
                    s.name
                )
            })
            .collect();
        want.push((
            action_list(ARCHIVE_ACTIONS),
            action_list(&prefixes.iter().map(String::as_str).collect::<Vec<_>>()),
        ));
        want.push((
            "kms:GenerateDataKey".to_owned(),
            "!GetAtt ArchiveKey.Arn".to_owned(),
        ));
        want.push((
            "secretsmanager:GetSecretValue".to_owned(),
            action_list(&refs.iter().map(String::as_str).collect::<Vec<_>>()),
        ));
        assert_eq!(
            got, want,
            "{}: table items, queue, its own secrets; no wildcard",
            f.name
        );
    }
    let worker = block(
        &t,
        |b| b.iter().any(|l| l.trim() == "Binary: journey-worker"),
        2,
    )
    .join("\n");
    let got: Vec<(String, String)> = values(&worker, "Action")
        .into_iter()
        .zip(values(&worker, "Resource"))
        .collect();
    assert_eq!(
        got,
        [
            (
                action_list(JOURNEY_TABLE_ACTIONS),
                "!GetAtt JourneyTable.Arn".to_owned()
            ),
            (ddb, "!GetAtt IdempotencyTable.Arn".to_owned()),
            (
                action_list(WORKER_SQS_ACTIONS),
                "!GetAtt EventsQueue.Arn".to_owned()
            ),
        ],
        "journey-worker: its table, its claims, the queue it consumes"
    );
    // No wildcard in any role; a KMS key policy's `*` means the key itself.
    let key_policy = block(&t, |b| b[0].trim() == "ArchiveKey:", 2).join("\n");
    let roles = t.replace(&key_policy, "");
    assert!(!roles.contains("Resource: \"*\"") && !roles.contains("Resource: '*'"));
}

/// The `dynamodb:LeadingKeys` patterns of a block, in order.
fn leading_keys(block: &str) -> Vec<String> {
    values(block, "dynamodb:LeadingKeys")
        .iter()
        .flat_map(|v| {
            v.trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .map(|k| k.trim().trim_matches('"').to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn each_function_may_write_only_the_idempotency_records_of_its_own_sources() {
    let t = template();
    for f in FUNCTIONS {
        let block = resource_of(&t, f).join("\n");
        let want: Vec<String> = f.sources.iter().map(|s| format!("{}#*", s.name)).collect();
        assert_eq!(leading_keys(&block), want, "{}", f.name);
        assert!(block.contains("ForAllValues:StringLike:"), "{}", f.name);
    }
    let worker = block(
        &t,
        |b| b.iter().any(|l| l.trim() == "Binary: journey-worker"),
        2,
    )
    .join("\n");
    assert_eq!(
        leading_keys(&worker),
        [journey::KEY_PREFIX.to_owned() + "*"]
    );
}

#[test]
fn one_alarm_watches_every_sources_authentication_refusals_and_one_the_secret_refreshes() {
    let t = template();
    let alarm = block(&t, |b| b[0].trim() == "AuthFailureBurstAlarm:", 2).join("\n");
    let watched: BTreeSet<String> = alarm
        .lines()
        .zip(alarm.lines().skip(1))
        .filter(|(name, _)| name.trim() == "- Name: Source")
        .filter_map(|(_, value)| value.trim().strip_prefix("Value: ").map(str::to_owned))
        .collect();
    let sources: BTreeSet<String> = FUNCTIONS
        .iter()
        .flat_map(|f| f.sources.iter().map(|s| s.name.to_owned()))
        .collect();
    assert_eq!(watched, sources);
    assert!(values(&alarm, "MetricName")
        .iter()
        .all(|m| m == "AuthRefused"));
    let refresh = block(&t, |b| b[0].trim() == "SecretRefreshFailedAlarm:", 2).join("\n");
    assert_eq!(values(&refresh, "MetricName"), ["SecretRefreshFailed"]);
    // Both metrics are ones the code emits.
    let doc = kyc_intake::metrics::secret_refresh_failed("X", 1);
    assert!(kyc_intake::metrics::check_emf(&doc)
        .expect("EMF")
        .contains_key("SecretRefreshFailed"));
}

#[test]
fn the_journey_worker_is_optional_and_reports_batch_item_failures() {
    let t = template();
    let worker = block(
        &t,
        |b| b.iter().any(|l| l.trim() == "Binary: journey-worker"),
        2,
    );
    assert!(worker
        .iter()
        .any(|l| l.trim() == "Condition: HasJourneyWorker"));
    let own = [
        journey::var::JOURNEY_TABLE,
        kyc_intake::completeness::STALL_AFTER_VARIABLE,
    ];
    assert_eq!(
        env_vars(&worker),
        own.iter().map(|v| (*v).to_owned()).collect()
    );
    for v in journey::var::ALL.iter().filter(|v| !own.contains(v)) {
        assert!(var::COMMON.contains(v), "{v} comes from Globals");
    }
    let mapping = block(&t, |b| b[0].trim() == "JourneyWorkerEventSource:", 2).join("\n");
    assert_eq!(
        values(&mapping, "FunctionResponseTypes"),
        ["[ReportBatchItemFailures]"]
    );
    assert_eq!(
        values(&mapping, "EventSourceArn"),
        ["!GetAtt EventsQueue.Arn"]
    );
    assert_eq!(values(&mapping, "Condition"), ["HasJourneyWorker"]);
    assert!(
        !t.contains("Type: SQS"),
        "no SAM SQS event: it would attach a managed policy on every queue"
    );
}

#[test]
fn no_secret_has_a_default() {
    let t = template();
    for param in [
        "CashfreeClientSecrets",
        "HyperVergeResultsAuthTokens",
        "HyperVergeDigilockerUrlTokens",
    ] {
        let block: Vec<&str> = t
            .lines()
            .skip_while(|l| l.trim() != format!("{param}:"))
            .skip(1)
            .take_while(|l| indent(l) > 2)
            .collect();
        assert!(
            block.iter().any(|l| l.trim() == "NoEcho: true"),
            "{param} is NoEcho"
        );
        assert!(
            !block.iter().any(|l| l.trim().starts_with("Default:")),
            "{param} has no default"
        );
    }
}

/// The one `key: value` line of the template with this key.
fn single(t: &str, key: &str) -> String {
    let all = values(t, key);
    assert_eq!(all.len(), 1, "{key}: {all:?}");
    all[0].clone()
}

#[test]
fn the_function_timeout_allows_the_whole_protocol() {
    let t = template();
    let timeout: u64 = single(&globals(&t).join("\n"), "Timeout")
        .parse()
        .expect("seconds");
    assert_eq!(timeout, kyc_intake::pipeline::FUNCTION_TIMEOUT_SECS);
    let three_calls = 3 * kyc_intake::aws::OPERATION_TIMEOUT.as_secs();
    assert!(
        timeout > three_calls,
        "claim, send and complete at their SDK timeout ({three_calls} s) fit in {timeout} s"
    );
}

#[test]
fn every_body_up_to_the_largest_max_body_bytes_fits_the_queue() {
    use kyc_intake::normalize::{MAX_BODY_BYTES_LIMIT, QUEUE_MAX_MESSAGE_BYTES};
    let t = template();
    let sizes = values(&t, "MaximumMessageSize");
    assert!(
        sizes.len() >= 2
            && sizes
                .iter()
                .all(|s| *s == QUEUE_MAX_MESSAGE_BYTES.to_string())
    );
    let max_body = block(&t, |b| b[0].trim() == "MaxBodyBytes:", 2).join("\n");
    assert_eq!(
        single(&max_body, "MaxValue"),
        MAX_BODY_BYTES_LIMIT.to_string()
    );
    let local = std::fs::read_to_string(workspace().join("tools/local/src/resources.rs"))
        .expect("resources.rs");
    assert!(
        local.contains("QUEUE_MAX_MESSAGE_BYTES"),
        "the local queue is made with the same MaximumMessageSize"
    );
}

#[test]
fn alarms_watch_metrics_and_outcomes_the_code_emits() {
    use kyc_intake::metrics::NAMESPACE;
    use kyc_intake::Outcome;
    let t = template();
    let ours: Vec<&str> = values(&t, "Namespace")
        .iter()
        .filter(|n| !n.starts_with("AWS/"))
        .map(|_| NAMESPACE)
        .collect();
    assert!(ours.len() >= 5, "alarms on the intake's own metrics");
    for n in values(&t, "Namespace") {
        assert!(n == NAMESPACE || n.starts_with("AWS/"), "namespace {n}");
    }
    // Every Outcome the alarms name is one the code can answer.
    let labels = Outcome::labels();
    let lines: Vec<&str> = t.lines().collect();
    let mut outcomes = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.trim() == "- Name: Outcome" {
            let v = lines[i + 1]
                .trim()
                .strip_prefix("Value: ")
                .expect("a value");
            outcomes.push(v.to_owned());
        }
    }
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
            values(&t, "MetricName").iter().any(|m| m == metric),
            "{metric}"
        );
    }
    // The alarms the operations issue asks for, by name.
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
        assert!(t.contains(&format!("\n  {alarm}:\n")), "{alarm}");
    }
}

#[test]
fn the_api_is_throttled_and_its_access_log_has_no_query_string_or_body() {
    let t = template();
    let api = block(&t, |b| b[0].trim() == "WebhookApi:", 2).join("\n");
    assert_eq!(
        values(&api, "ThrottlingRateLimit"),
        ["!Ref ApiThrottlingRateLimit"]
    );
    assert_eq!(
        values(&api, "ThrottlingBurstLimit"),
        ["!Ref ApiThrottlingBurstLimit"]
    );
    let format = api
        .lines()
        .skip_while(|l| l.trim() != "Format: >-")
        .nth(1)
        .expect("an access log format");
    let fields: serde_json::Value = serde_json::from_str(format.trim()).expect("JSON format");
    let text = fields.to_string();
    for banned in [
        "$context.requestOverride",
        "querystring",
        "$input",
        "$request.body",
        "rawQueryString",
    ] {
        assert!(
            !text.to_lowercase().contains(&banned.to_lowercase()),
            "{banned}"
        );
    }
    assert!(text.contains("$context.path") && text.contains("$context.status"));
    assert!(t.contains("  OperationsDashboard:\n"));
}

#[test]
fn the_archive_bucket_is_locked_encrypted_private_tls_only_and_tiered_by_size() {
    let t = template();
    let bucket = block(&t, |b| b[0].trim() == "ArchiveBucket:", 2).join("\n");
    for line in [
        "ObjectLockEnabled: true",
        "Mode: !Ref ArchiveLockMode",
        "Days: !Ref ArchiveRetentionDays",
        "Status: Enabled",
        "SSEAlgorithm: aws:kms",
        "KMSMasterKeyID: !GetAtt ArchiveKey.Arn",
        "BucketKeyEnabled: true",
        "BlockPublicAcls: true",
        "BlockPublicPolicy: true",
        "IgnorePublicAcls: true",
        "RestrictPublicBuckets: true",
        "ObjectSizeGreaterThan: 131072",
        "StorageClass: GLACIER_IR",
        "TransitionInDays: !Ref ArchiveColdAfterDays",
        "ExpirationInDays: !Ref ArchiveRetentionDays",
        "DeletionPolicy: Retain",
    ] {
        assert!(
            bucket
                .lines()
                .any(|l| l.trim().trim_start_matches("- ") == line),
            "ArchiveBucket lacks `{line}`"
        );
    }
    let key = block(&t, |b| b[0].trim() == "ArchiveKey:", 2).join("\n");
    assert!(key.contains("EnableKeyRotation: true"));
    let policy = block(&t, |b| b[0].trim() == "ArchiveBucketPolicy:", 2).join("\n");
    assert!(policy.contains("Effect: Deny") && policy.contains("aws:SecureTransport: \"false\""));
    let params = block(&t, |b| b[0].trim() == "Parameters:", 0).join("\n");
    for (name, default) in [
        ("ArchiveRetentionDays", "1825"),
        ("ArchiveLockMode", "GOVERNANCE"),
        ("ArchiveColdAfterDays", "90"),
        ("ArchiveEnabled", "\"true\""),
    ] {
        let p = block(&params, |b| b[0].trim() == format!("{name}:"), 2).join("\n");
        assert!(p.contains(&format!("Default: {default}")), "{name}: {p}");
    }
    assert!(params.contains("AllowedValues: [GOVERNANCE, COMPLIANCE]"));
    // The code writes where the roles allow.
    let key = archive::key("cashfree/vkyc", chrono::Utc::now(), "id");
    assert!(key.starts_with(&format!("{}/cashfree/vkyc/", archive::PREFIX)));
}

#[test]
fn the_sweeper_queries_the_due_index_of_open_journeys_and_never_scans() {
    use kyc_intake::completeness::{all_sources, STALL_AFTER_VARIABLE};
    use kyc_intake::journey::{attr as j, DUE_INDEX, DUE_PROJECTION};
    use kyc_intake::sweeper::var as sv;
    let t = template();
    let sweeper = block(
        &t,
        |b| b.iter().any(|l| l.trim() == "Binary: journey-sweeper"),
        2,
    )
    .join("\n");
    // Its variables are ones the code reads (the secret only by its _SECRET_ID).
    let vars = env_vars(&sweeper.lines().collect::<Vec<_>>());
    let known: BTreeSet<String> = sv::ALL
        .iter()
        .map(|v| (*v).to_owned())
        .chain(sv::SECRETS.iter().map(|v| secrets_manager::id_variable(v)))
        .collect();
    assert!(!vars.is_empty() && vars.is_subset(&known), "{vars:?}");
    assert!(vars.contains(journey::var::JOURNEY_TABLE));
    // A query on the index, the queue, its secret: nothing else, and no scan anywhere.
    let got: Vec<(String, String)> = values(&sweeper, "Action")
        .into_iter()
        .zip(values(&sweeper, "Resource"))
        .collect();
    assert_eq!(
        got,
        [
            (
                action_list(kyc_intake::aws::SWEEPER_TABLE_ACTIONS),
                format!("!Sub \"${{JourneyTable.Arn}}/index/{DUE_INDEX}\"")
            ),
            (
                "sqs:SendMessage".to_owned(),
                "!GetAtt EventsQueue.Arn".to_owned()
            ),
            (
                "secretsmanager:GetSecretValue".to_owned(),
                "!Ref CashfreeApiSecret".to_owned()
            ),
        ]
    );
    assert!(!t.contains("dynamodb:Scan"));
    assert!(sweeper.contains("Type: ScheduleV2"));
    assert!(sweeper.contains("ScheduleExpression: !Sub rate(${SweepIntervalMinutes} minutes)"));
    // The index the code queries, with what the sweeper reads.
    let table = block(&t, |b| b[0].trim() == "JourneyTable:", 2).join("\n");
    assert!(table.contains(&format!("- IndexName: {DUE_INDEX}")));
    for key in [j::SWEEP_SHARD, j::DUE_AT] {
        assert!(table.contains(&format!("- AttributeName: {key}")), "{key}");
    }
    let projected = values(&table, "NonKeyAttributes");
    assert_eq!(projected, [format!("[{}]", DUE_PROJECTION.join(", "))]);
    // The worker computes due times from the same limits, whose default is the sources' own.
    let worker = block(
        &t,
        |b| b.iter().any(|l| l.trim() == "Binary: journey-worker"),
        2,
    )
    .join("\n");
    assert!(worker.contains(&format!("{STALL_AFTER_VARIABLE}: !Ref JourneyStallAfter")));
    let params = block(&t, |b| b[0].trim() == "Parameters:", 0).join("\n");
    let param = block(&params, |b| b[0].trim() == "JourneyStallAfter:", 2).join("\n");
    let default: BTreeSet<String> = values(&param, "Default")[0]
        .split(',')
        .map(str::to_owned)
        .collect();
    let sources: BTreeSet<String> = all_sources()
        .map(|s| format!("{}={}", s.name, s.journey.stall_after_secs))
        .collect();
    assert_eq!(default, sources);
    for alarm in ["StalledJourneysAlarm", "JourneySweeperErrorsAlarm"] {
        assert!(t.contains(&format!("\n  {alarm}:\n")), "{alarm}");
    }
}
