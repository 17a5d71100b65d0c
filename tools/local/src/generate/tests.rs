use super::*;
use kyc_intake::config::setting::Setting;
use kyc_intake::event::AuthScheme;
use kyc_intake::sources::registry::{auth_schemes, FUNCTIONS, STATUS_APIS};
use kyc_intake::sources::{cashfree, FunctionSpec, SourceSpec};

fn shipped() -> Registry {
    registry(FUNCTIONS, STATUS_APIS, auth_schemes()).expect("the shipped registry is consistent")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn a_region_is_replaced_whole_and_the_text_around_it_kept() {
    let text = "Resources:\n  Mine:\n    Type: X\n  # BEGIN generated: resources\n  Old: 1\n  # END generated\n  After: 2\n";
    let filled = fill(
        "t",
        text,
        YAML,
        &[("resources", "  New:\n    Type: Y\n".into())],
    )
    .expect("filled");
    assert_eq!(
        filled,
        "Resources:\n  Mine:\n    Type: X\n  # BEGIN generated: resources\n  New:\n    Type: Y\n  # END generated\n  After: 2\n"
    );
    // Filling again changes nothing.
    assert_eq!(
        fill(
            "t",
            &filled,
            YAML,
            &[("resources", "  New:\n    Type: Y\n".into())]
        )
        .expect("again"),
        filled
    );
}

#[test]
fn markers_the_generator_cannot_follow_are_refused_naming_the_file() {
    let region = [("resources", String::from("  A: 1\n"))];
    for (text, problem) in [
        ("# BEGIN generated: resources\n", "no `# END generated` line"),
        ("# BEGIN generated: other\n# END generated\n", "no generated region is called `other`"),
        ("nothing here\n", "the generated region is missing"),
        (
            "# BEGIN generated: resources\n# END generated\n# BEGIN generated: resources\n# END generated\n",
            "twice",
        ),
    ] {
        let e = fill("template.yaml", text, YAML, &region).expect_err(problem);
        let message = e.to_string();
        assert!(message.starts_with("template.yaml: "), "{message}");
        assert!(message.contains(problem), "{message}");
    }
}

static DIGILOCKER_AGAIN: SourceSpec = SourceSpec {
    name: "cashfree/digilocker2",
    ..cashfree::digilocker::SOURCE
};

static SAME_ROUTE: FunctionSpec = FunctionSpec {
    sources: &[&cashfree::digilocker::SOURCE, &DIGILOCKER_AGAIN],
    ..cashfree::FUNCTION
};

static SAME_VARIABLE: FunctionSpec = FunctionSpec {
    settings: &[
        Setting::secrets("CASHFREE_CLIENT_SECRETS", "CashfreeClientSecrets", "a"),
        Setting::secrets("CASHFREE_CLIENT_SECRETS", "CashfreeOtherSecrets", "b"),
    ],
    ..cashfree::FUNCTION
};

static SAME_PARAMETER: FunctionSpec = FunctionSpec {
    settings: &[
        Setting::secrets("CASHFREE_CLIENT_SECRETS", "CashfreeClientSecrets", "a"),
        Setting::text("CASHFREE_OTHER", "CashfreeClientSecrets", "", "b"),
    ],
    ..cashfree::FUNCTION
};

#[test]
fn an_inconsistent_registry_is_refused_naming_the_entry() {
    let e = registry(&[&SAME_ROUTE], &[], auth_schemes()).expect_err("one route, two sources");
    assert_eq!(e.entry, "cashfree/digilocker2");
    assert!(e.problem.contains("/webhooks/cashfree/digilocker"), "{e}");

    let e = registry(&[&SAME_VARIABLE], &[], auth_schemes()).expect_err("a variable twice");
    assert_eq!(e.entry, "cashfree-webhook");
    assert!(e.problem.contains("CASHFREE_CLIENT_SECRETS"), "{e}");

    let e = registry(&[&SAME_PARAMETER], &[], auth_schemes()).expect_err("a parameter twice");
    assert!(e.problem.contains("parameter CashfreeClientSecrets"), "{e}");

    let e = registry(
        &[&cashfree::FUNCTION, &cashfree::FUNCTION],
        &[],
        auth_schemes(),
    )
    .expect_err("a function twice");
    assert_eq!(e.entry, "cashfree-webhook");

    let mut schemes = auth_schemes();
    schemes.push(AuthScheme::named("Acme-Token"));
    let e = registry(FUNCTIONS, STATUS_APIS, schemes).expect_err("a scheme the schema cannot name");
    assert_eq!(e.entry, "scheme `Acme-Token`");

    let e = registry(&[&SAME_ROUTE], STATUS_APIS, auth_schemes());
    assert!(e.is_err());
    let e = registry(&[&cashfree::FUNCTION], STATUS_APIS, auth_schemes())
        .expect_err("a status API of a provider no function serves");
    assert_eq!(e.entry, "digio status API");
}

/// A scratch copy of every file the generator reads.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kyc-generate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for file in [
        "template.yaml",
        "README.md",
        "docs/design.md",
        "docs/configuration.md",
        "docs/completeness.md",
        "docs/consuming.md",
        "docs/operations.md",
        "schema/kyc-event.schema.json",
    ] {
        let to = dir.join(file);
        std::fs::create_dir_all(to.parent().expect("a folder")).expect("mkdir");
        std::fs::copy(workspace().join(file), &to).expect("copy");
    }
    dir
}

#[test]
fn generation_is_deterministic_and_a_second_run_changes_nothing() {
    let root = scratch("twice");
    let r = shipped();
    let first = outputs(&root, &r).expect("outputs");
    write(&root, &first).expect("written");
    let second = outputs(&root, &r).expect("outputs again");
    let changed: Vec<_> = second
        .iter()
        .filter(|o| o.changes())
        .map(|o| o.path.clone())
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
    assert_eq!(
        template_regions(&r).expect("a"),
        template_regions(&r).expect("b")
    );
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn a_failed_generation_writes_nothing() {
    let root = scratch("fails");
    // The template is current except that a hand edit broke its last region's markers.
    let template = root.join("template.yaml");
    let text = std::fs::read_to_string(&template).expect("template");
    let broken = text.replace(
        "  # BEGIN generated: outputs",
        "  # BEGIN generated: outputz",
    );
    std::fs::write(&template, &broken).expect("write");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("readme");
    let stale = readme.replace("| `digio/kyc` |", "| `digio/kyc-old` |");
    std::fs::write(root.join("README.md"), &stale).expect("write");
    let e = outputs(&root, &shipped()).expect_err("refused");
    assert!(e.to_string().contains("outputz"), "{e}");
    assert_eq!(std::fs::read_to_string(&template).expect("t"), broken);
    assert_eq!(
        std::fs::read_to_string(root.join("README.md")).expect("r"),
        stale
    );
    let _ = std::fs::remove_dir_all(root);
}

/// The secrets existing stacks hold real values in: renaming one (a new logical id) or changing
/// how its value is given would replace or overwrite that value on the next deploy.
const DEPLOYED_SECRETS: &[(&str, &str, &str)] = &[
    (
        "CashfreeClientSecretsSecret",
        "HasCashfreeClientSecrets",
        "CashfreeClientSecrets",
    ),
    (
        "HyperVergeDigilockerUrlTokensSecret",
        "HasHyperVergeDigilockerUrlTokens",
        "HyperVergeDigilockerUrlTokens",
    ),
    (
        "HyperVergeResultsAuthTokensSecret",
        "HasHyperVergeResultsAuthTokens",
        "HyperVergeResultsAuthTokens",
    ),
    (
        "DigioWebhookSecretsSecret",
        "HasDigioWebhookSecrets",
        "DigioWebhookSecrets",
    ),
    (
        "CashfreeApiSecret",
        "HasCashfreeApiClientSecret",
        "CashfreeApiClientSecret",
    ),
    (
        "DigioApiSecret",
        "HasDigioApiClientSecret",
        "DigioApiClientSecret",
    ),
];

#[test]
fn generation_never_changes_how_a_secret_gets_its_value() {
    let resources = template_regions(&shipped())
        .expect("regions")
        .into_iter()
        .find(|(n, _)| *n == "resources")
        .expect("resources")
        .1;
    let mut secrets = Vec::new();
    let lines: Vec<&str> = resources.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "Type: AWS::SecretsManager::Secret" {
            continue;
        }
        let id = lines[i - 1].trim().trim_end_matches(':').to_owned();
        let body: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| l.starts_with("    "))
            .copied()
            .collect();
        secrets.push((id, body));
    }
    let ids: Vec<&str> = secrets.iter().map(|(id, _)| id.as_str()).collect();
    for (id, has_value, parameter) in DEPLOYED_SECRETS {
        let Some((_, body)) = secrets.iter().find(|(s, _)| s == id) else {
            panic!("{id} is no longer generated: a deployed secret would be deleted ({ids:?})")
        };
        let value = body
            .iter()
            .position(|l| l.trim_start().starts_with("SecretString:"))
            .expect("a SecretString");
        assert_eq!(
            body[value..value + 6],
            [
                format!(
                    "      SecretString: !If [{has_value}, !Ref {parameter}, !Ref AWS::NoValue]"
                )
                .as_str(),
                "      GenerateSecretString: !If",
                format!("        - {has_value}").as_str(),
                "        - !Ref AWS::NoValue",
                "        - PasswordLength: 48",
                "          ExcludePunctuation: true",
            ],
            "{id}: its value is the parameter's when given, else generated once"
        );
    }
    // Every other secret (a new provider's) takes its value the same way.
    for (id, body) in &secrets {
        assert!(
            body.iter()
                .any(|l| l.starts_with("      SecretString: !If [Has")
                    && l.ends_with(", !Ref AWS::NoValue]")),
            "{id}"
        );
        assert!(body.contains(&"        - PasswordLength: 48"), "{id}");
    }
}

#[test]
fn a_new_providers_crate_is_written_when_missing_and_an_existing_one_left_alone() {
    let root = scratch("crate");
    for f in FUNCTIONS.iter().filter(|f| f.name != "cashfree-webhook") {
        let provider = f.sources[0].provider;
        std::fs::create_dir_all(root.join("functions").join(provider)).expect("mkdir");
    }
    let crates = function_crates(&root, &shipped()).expect("crates");
    let paths: Vec<String> = crates
        .iter()
        .map(|o| o.path.display().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "functions/cashfree/Cargo.toml",
            "functions/cashfree/src/main.rs"
        ]
    );
    let shipped_main =
        std::fs::read_to_string(workspace().join("functions/cashfree/src/main.rs")).expect("main");
    assert_eq!(
        crates[1].after, shipped_main,
        "the shipped crate is what the generator writes"
    );
    let shipped_cargo =
        std::fs::read_to_string(workspace().join("functions/cashfree/Cargo.toml")).expect("toml");
    assert_eq!(crates[0].after, shipped_cargo);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn yaml_scalars_read_back_as_the_same_string() {
    assert_eq!(scalar("x-webhook-token"), "x-webhook-token");
    assert_eq!(scalar("65.0.82.147,3.7.90.248"), "65.0.82.147,3.7.90.248");
    assert_eq!(scalar("off"), "\"off\"");
    assert_eq!(scalar("true"), "\"true\"");
    assert_eq!(scalar(""), "\"\"");
    assert_eq!(scalar("86400"), "\"86400\"");
    assert_eq!(scalar("a: b"), "\"a: b\"");
    assert_eq!(scalar("https://api.digio.in"), "\"https://api.digio.in\"");
    assert_eq!(
        fold("one two three four", 4, 14),
        "    one two\n    three four"
    );
}
