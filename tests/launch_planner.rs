//! The built-in launch planner (plugins/launch-planner, Lua) through the real plugin host.
//!
//! For every model of the shared model cases, the built-in family-detector says what the model
//! is and the planner builds an mlx-openai-server command line, against the captured
//! `launch --help` texts of 1.7.1 and 1.8.1 and, without a help text, against its per-release
//! table for 1.7.1, 1.8.1 and 1.3.0. Every plan must use only flags the release has
//! (`mlx-openai-server-cli.json` `launch_flags`, and the help text's options) and only parser and
//! model-type names the release accepts, and must bind 127.0.0.1 on the requested port. Then:
//! the parsers chosen for well-known families, wrapped choice lists, versions between and
//! outside the known releases, the warnings for what is left out, user overrides from the
//! settings, and the other server kinds.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use common::shared_fixtures;
use mlx_host::plugins::{Registry, RegistryOptions};
use mlx_host::settings::Settings;
use mlx_host_plugin_api::manifest::ConfigValue;
use mlx_host_plugin_api::types::{FamilyInfo, LaunchPlan, LaunchRequest, ModelSource};
use serde_json::Value;

const HOST: &str = "127.0.0.1";
const PORT: u16 = 8123;
const CHOICE_FLAGS: [&str; 3] = ["--model-type", "--tool-call-parser", "--reasoning-parser"];

fn options(settings: Settings) -> RegistryOptions {
    RegistryOptions {
        builtins: true,
        user_dirs: Vec::new(),
        settings,
        component_cache: None,
        events: None,
        side_effects: Default::default(),
    }
}

/// The built-ins, loaded once for every test of this file.
fn builtins() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::load(options(Settings::default())))
}

fn read_fixture(relative: &str) -> String {
    let path = shared_fixtures().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn help_text(version: &str) -> String {
    read_fixture(&format!("help/mlx-openai-server-{version}.launch-help.txt"))
}

/// What one release accepts: its flags and the choices of the flags that have them.
#[derive(Debug, Clone)]
struct Accepted {
    source: String,
    flags: BTreeSet<String>,
    choices: BTreeMap<String, BTreeSet<String>>,
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_str().map(str::to_string))
        .collect()
}

fn version_numbers(version: &str) -> Vec<u32> {
    version
        .trim_start_matches('v')
        .split('.')
        .map(|part| part.parse().expect("numeric version"))
        .collect()
}

/// The releases of `mlx-openai-server-cli.json`, oldest first.
fn releases() -> Vec<(Vec<u32>, Accepted)> {
    let cli: Value = serde_json::from_str(&read_fixture("mlx-openai-server-cli.json")).unwrap();
    let mut releases: Vec<(Vec<u32>, Accepted)> = cli
        .as_object()
        .unwrap()
        .iter()
        .filter(|(key, _)| key.starts_with('v'))
        .map(|(key, release)| {
            let registry = release
                .as_object()
                .unwrap()
                .iter()
                .find(|(name, _)| name.starts_with("PARSER_REGISTRY"))
                .map(|(_, names)| strings(names))
                .unwrap_or_default();
            let unified = strings(&release["UNIFIED_PARSER_MAP"]);
            let union = |map: &str| -> BTreeSet<String> {
                let mut names = strings(&release[map]);
                names.extend(unified.iter().cloned());
                names.extend(registry.iter().cloned());
                names
            };
            let choices = BTreeMap::from([
                ("--model-type".to_string(), strings(&release["model_types"])),
                ("--tool-call-parser".to_string(), union("TOOL_PARSER_MAP")),
                (
                    "--reasoning-parser".to_string(),
                    union("REASONING_PARSER_MAP"),
                ),
            ]);
            let accepted = Accepted {
                source: format!("mlx-openai-server-cli.json {key}"),
                flags: strings(&release["launch_flags"]),
                choices,
            };
            (version_numbers(key), accepted)
        })
        .collect();
    releases.sort_by(|a, b| a.0.cmp(&b.0));
    releases
}

/// The newest release of the CLI table that is not newer than `version`.
fn release_for(version: &str) -> Accepted {
    let wanted = version_numbers(version);
    releases()
        .into_iter()
        .rev()
        .find(|(numbers, _)| *numbers <= wanted)
        .map(|(_, accepted)| accepted)
        .unwrap_or_else(|| panic!("no release at or below {version}"))
}

/// The options and choice lists of a captured `launch --help` (click, one option per line).
fn help_accepts(version: &str) -> Accepted {
    let text = help_text(version);
    let mut flags = BTreeSet::new();
    let mut choices = BTreeMap::new();
    for line in text.lines() {
        let Some(spec) = line.strip_prefix("  --") else {
            continue;
        };
        let flag: String = spec
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let flag = format!("--{flag}");
        let rest = &line[2 + flag.len()..];
        if let Some(list) = rest
            .strip_prefix(" [")
            .and_then(|list| list.split_once(']'))
            .map(|(list, _)| list)
        {
            choices.insert(
                flag.clone(),
                list.split('|').map(str::to_string).collect::<BTreeSet<_>>(),
            );
        }
        flags.insert(flag);
    }
    assert!(flags.len() > 30, "{version}: {flags:?}");
    Accepted {
        source: format!("mlx-openai-server {version} launch --help"),
        flags,
        choices,
    }
}

/// The options of an argv: (flag, value) pairs, in order.
type Options = Vec<(String, Option<String>)>;

/// The options of an mlx-openai-server argv after `launch`.
fn options_of(argv: &[String]) -> Options {
    assert_eq!(argv[..2], ["mlx-openai-server", "launch"], "{argv:?}");
    let mut options = Vec::new();
    let mut rest = argv[2..].iter().peekable();
    while let Some(flag) = rest.next() {
        assert!(
            flag.starts_with("--"),
            "stray argument {flag:?} in {argv:?}"
        );
        let value = rest.next_if(|next| !next.starts_with("--")).cloned();
        options.push((flag.clone(), value));
    }
    options
}

fn value_of<'a>(options: &'a [(String, Option<String>)], flag: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|(name, _)| name == flag)
        .and_then(|(_, value)| value.as_deref())
}

/// Every flag of `argv` is one `accepted` lists, every choice one it accepts, each flag appears
/// once, and the server binds 127.0.0.1 on PORT and serves `model`.
fn assert_valid(argv: &[String], model: &str, accepted: &[&Accepted], context: &str) {
    let options = options_of(argv);
    let mut seen = BTreeSet::new();
    for (flag, value) in &options {
        assert!(
            seen.insert(flag.clone()),
            "{context}: {flag} twice in {argv:?}"
        );
        for release in accepted {
            assert!(
                release.flags.contains(flag),
                "{context}: {flag} is not a flag of {} ({argv:?})",
                release.source
            );
            if let (Some(allowed), Some(value)) = (release.choices.get(flag), value) {
                assert!(
                    allowed.contains(value),
                    "{context}: {flag} {value} is not accepted by {} ({argv:?})",
                    release.source
                );
            }
        }
    }
    for flag in CHOICE_FLAGS {
        if seen.contains(flag) {
            assert!(
                value_of(&options, flag).is_some(),
                "{context}: {flag} without a value"
            );
        }
    }
    assert_eq!(
        value_of(&options, "--host"),
        Some(HOST),
        "{context}: {argv:?}"
    );
    assert_eq!(
        value_of(&options, "--port"),
        Some(PORT.to_string().as_str()),
        "{context}: {argv:?}"
    );
    assert_eq!(
        value_of(&options, "--model-path"),
        Some(model),
        "{context}: {argv:?}"
    );
}

fn request(
    server_kind: &str,
    model: &str,
    family: Option<FamilyInfo>,
    version: Option<&str>,
    help: Option<&str>,
) -> LaunchRequest {
    LaunchRequest {
        server_kind: server_kind.into(),
        server_version: version.map(str::to_string),
        model: model.into(),
        host: HOST.into(),
        port: PORT,
        family,
        server_help: help.map(str::to_string),
    }
}

fn plan(registry: &Registry, request: &LaunchRequest) -> Vec<String> {
    let planned = registry.plan_launch(request, LaunchPlan::default());
    assert_eq!(planned.planners, ["launch-planner"], "{request:?}");
    planned.plan.argv
}

/// A model of the shared cases, with what the built-in family-detector says about it.
struct Case {
    name: String,
    model: String,
    family: Option<FamilyInfo>,
}

fn detected_cases(registry: &Registry) -> Vec<Case> {
    let cases: Vec<Value> = serde_json::from_str(&read_fixture("model-cases.json")).unwrap();
    assert!(!cases.is_empty());
    cases
        .iter()
        .map(|case| {
            let model = case["repo_id"].as_str().expect("every case has a repo id");
            let config_json = match &case["config"] {
                Value::Null => None,
                config => Some(config.to_string()),
            };
            let family = registry
                .detect_family(&ModelSource {
                    repo_id: Some(model.to_string()),
                    config_json,
                })
                .map(|answer| {
                    assert_eq!(&*answer.plugin, "family-detector");
                    answer.value
                });
            Case {
                name: case["name"].as_str().unwrap().to_string(),
                model: model.to_string(),
                family,
            }
        })
        .collect()
}

/// One way of telling the planner what the installed mlx-openai-server accepts.
struct Scenario {
    label: &'static str,
    version: &'static str,
    help: Option<String>,
    /// What every plan of the scenario must stay within.
    accepted: Vec<Accepted>,
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            label: "help 1.7.1",
            version: "1.7.1",
            help: Some(help_text("1.7.1")),
            accepted: vec![help_accepts("1.7.1"), flags_only(release_for("1.7.1"))],
        },
        Scenario {
            label: "help 1.8.1",
            version: "1.8.1",
            help: Some(help_text("1.8.1")),
            accepted: vec![help_accepts("1.8.1"), release_for("1.8.1")],
        },
        Scenario {
            label: "table 1.7.1",
            version: "1.7.1",
            help: None,
            accepted: vec![release_for("1.7.1"), flags_only(help_accepts("1.7.1"))],
        },
        Scenario {
            label: "table 1.8.1",
            version: "1.8.1",
            help: None,
            accepted: vec![release_for("1.8.1"), help_accepts("1.8.1")],
        },
        Scenario {
            label: "table 1.3.0",
            version: "1.3.0",
            help: None,
            accepted: vec![release_for("1.3.0")],
        },
    ]
}

/// The captured 1.7.1 help lists `gemma4` parsers that the 1.7.0 tag of the CLI table lacks, so
/// for 1.7.1 the help and the table are each checked for flags only against the other.
fn flags_only(accepted: Accepted) -> Accepted {
    Accepted {
        choices: BTreeMap::new(),
        ..accepted
    }
}

#[derive(Default)]
struct Tally {
    plans: usize,
    tool_parsers: usize,
    reasoning_parsers: usize,
    no_log_file: usize,
}

#[test]
fn every_model_case_gets_a_plan_the_release_accepts() {
    let registry = builtins();
    let cases = detected_cases(registry);
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut plans: BTreeMap<(&str, String), Options> = BTreeMap::new();
    for scenario in scenarios() {
        let accepted: Vec<&Accepted> = scenario.accepted.iter().collect();
        for case in &cases {
            let request = request(
                "mlx-openai-server",
                &case.model,
                case.family.clone(),
                Some(scenario.version),
                scenario.help.as_deref(),
            );
            let argv = plan(registry, &request);
            let context = format!("{} / {}", scenario.label, case.name);
            assert_valid(&argv, &case.model, &accepted, &context);
            let options = options_of(&argv);
            let tally = tallies.entry(scenario.label).or_default();
            tally.plans += 1;
            tally.tool_parsers += usize::from(value_of(&options, "--tool-call-parser").is_some());
            tally.reasoning_parsers +=
                usize::from(value_of(&options, "--reasoning-parser").is_some());
            tally.no_log_file += usize::from(options.iter().any(|(f, _)| f == "--no-log-file"));
            plans.insert((scenario.label, case.name.clone()), options);
        }
    }

    let parsers = |label: &str, case: &str| -> (Option<String>, Option<String>, Option<String>) {
        let options = plans
            .get(&(label, case.to_string()))
            .unwrap_or_else(|| panic!("no plan for {label} / {case}"));
        let get = |flag: &str| value_of(options, flag).map(str::to_string);
        (
            get("--model-type"),
            get("--tool-call-parser"),
            get("--reasoning-parser"),
        )
    };
    let some = |value: &str| Some(value.to_string());
    // Well-known families get their own parsers where the release accepts them.
    let expected = [
        ("qwen3_base", some("lm"), some("qwen3"), some("qwen3")),
        (
            "qwen2_model_type_maps_to_qwen3",
            some("lm"),
            some("hermes"),
            None,
        ),
        (
            "qwen3_moe_name_without_moe",
            some("lm"),
            some("qwen3_moe"),
            some("qwen3_moe"),
        ),
        (
            "qwen3_coder_moe_config",
            some("lm"),
            some("qwen3_coder"),
            None,
        ),
        (
            "qwen3_vl_short_name",
            some("multimodal"),
            some("qwen3_vl"),
            some("qwen3_vl"),
        ),
        (
            "gpt_oss_harmony_missed",
            some("lm"),
            some("harmony"),
            some("harmony"),
        ),
        (
            "minimax_m2_3bit",
            some("lm"),
            some("minimax_m2"),
            some("minimax_m2"),
        ),
        ("minimax_m1_gets_m2_parsers", some("lm"), None, None),
        (
            "hermes_short_name",
            some("lm"),
            some("hermes"),
            some("hermes"),
        ),
        (
            "functiongemma_parser_without_family",
            some("lm"),
            some("functiongemma"),
            None,
        ),
        ("llama31_no_parsers", some("lm"), None, None),
        ("devstral_mistral", some("lm"), None, None),
        ("minilm_embeddings", some("embeddings"), None, None),
        (
            "qwen3_embedding_gets_chat_parsers",
            some("embeddings"),
            None,
            None,
        ),
        ("kokoro_tts", some("whisper"), None, None),
    ];
    for label in ["help 1.8.1", "help 1.7.1", "table 1.8.1", "table 1.7.1"] {
        for (case, model_type, tool, reasoning) in &expected {
            assert_eq!(
                parsers(label, case),
                (model_type.clone(), tool.clone(), reasoning.clone()),
                "{label} / {case}"
            );
        }
    }
    // 1.3.0 has no parser flags and no --no-log-file (nor a `whisper` model type).
    assert_eq!(
        parsers("table 1.3.0", "qwen3_base"),
        (some("lm"), None, None)
    );
    assert_eq!(parsers("table 1.3.0", "kokoro_tts"), (None, None, None));
    let old = &tallies["table 1.3.0"];
    assert_eq!(
        (old.tool_parsers, old.reasoning_parsers, old.no_log_file),
        (0, 0, 0)
    );
    for (label, tally) in &tallies {
        if *label != "table 1.3.0" {
            assert_eq!(tally.no_log_file, tally.plans, "{label}");
        }
    }
    // With the help text or the table, 1.7.1 and 1.8.1 agree on every model case.
    for case in &cases {
        let reference = parsers("help 1.8.1", &case.name);
        for label in ["help 1.7.1", "table 1.7.1", "table 1.8.1"] {
            assert_eq!(
                parsers(label, &case.name),
                reference,
                "{label} / {}",
                case.name
            );
        }
    }

    println!("launch plans for {} model cases:", cases.len());
    for (label, tally) in &tallies {
        println!(
            "  {label:<12} {} plans, {} with --tool-call-parser, {} with --reasoning-parser, {} with --no-log-file",
            tally.plans, tally.tool_parsers, tally.reasoning_parsers, tally.no_log_file
        );
    }
    let total: usize = tallies.values().map(|tally| tally.plans).sum();
    let with_parsers: usize = plans
        .values()
        .filter(|options| {
            options
                .iter()
                .any(|(flag, _)| flag == "--tool-call-parser" || flag == "--reasoning-parser")
        })
        .count();
    println!("  total        {total} plans, {with_parsers} with at least one parser");
}

fn family(key: &str, kind: &str, tool_calls: bool, reasoning: bool) -> Option<FamilyInfo> {
    Some(FamilyInfo {
        family: key.into(),
        kind: kind.into(),
        context_length: None,
        quantization_bits: None,
        tool_calls,
        reasoning,
        min_mlx_lm: None,
    })
}

/// `--tool-call-parser` and `--reasoning-parser` of a plan.
fn parser_pair(argv: &[String]) -> (Option<String>, Option<String>) {
    let options = options_of(argv);
    (
        value_of(&options, "--tool-call-parser").map(str::to_string),
        value_of(&options, "--reasoning-parser").map(str::to_string),
    )
}

fn pair(tool: Option<&str>, reasoning: Option<&str>) -> (Option<String>, Option<String>) {
    (tool.map(str::to_string), reasoning.map(str::to_string))
}

#[test]
fn choice_lists_wrapped_over_several_lines_are_read() {
    let registry = builtins();
    let qwen3 = family("qwen3", "lm", true, true);
    let model = "mlx-community/Qwen3-8B-4bit";
    let original = help_text("1.8.1");
    let expected = plan(
        registry,
        &request(
            "mlx-openai-server",
            model,
            qwen3.clone(),
            None,
            Some(&original),
        ),
    );
    assert_eq!(parser_pair(&expected), pair(Some("qwen3"), Some("qwen3")));

    // click on a narrow terminal: `[a|b|` and the rest of the list on the following lines.
    let mut click = String::new();
    for line in original.lines() {
        match line.split_once(" [") {
            Some((flag, list)) if line.starts_with("  --") && list.contains('|') => {
                let names: Vec<&str> = list.trim_end_matches(']').split('|').collect();
                click.push_str(&format!("{flag} [{}|\n", names[..2].join("|")));
                for chunk in names[2..].chunks(3) {
                    click.push_str(&format!("{:34}{}|\n", "", chunk.join("|")));
                }
                click.pop();
                click.pop();
                click.push_str("]\n");
            }
            _ => {
                click.push_str(line);
                click.push('\n');
            }
        }
    }
    assert!(click.contains("[functiongemma|gemma4|\n"), "{click}");
    // argparse: `{a,b,...}`, wrapped after every comma.
    let argparse = original
        .lines()
        .map(|line| match line.split_once(" [") {
            Some((flag, list)) if line.starts_with("  --") && list.contains('|') => format!(
                "{flag} {{{}}}",
                list.trim_end_matches(']')
                    .replace('|', ",\n                        ")
            ),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    for help in [click, argparse] {
        let argv = plan(
            registry,
            &request("mlx-openai-server", model, qwen3.clone(), None, Some(&help)),
        );
        assert_eq!(argv, expected, "{help}");
    }

    // A list that is read correctly also rejects: without `qwen3` in it, no qwen3 parser.
    let without_qwen3 = original.replace("|qwen3|", "|");
    let (argv, logs) = common::capture_logs(|| {
        plan(
            registry,
            &request(
                "mlx-openai-server",
                model,
                qwen3.clone(),
                None,
                Some(&without_qwen3),
            ),
        )
    });
    assert_eq!(parser_pair(&argv), pair(None, None));
    assert!(
        logs.contains("not passing --tool-call-parser qwen3")
            && logs.contains("not passing --reasoning-parser qwen3")
            && logs.contains("does not accept"),
        "{logs}"
    );
}

#[test]
fn versions_pick_the_nearest_release_not_newer() {
    let registry = builtins();
    let gemma4 = family("gemma4", "multimodal", true, true);
    let qwen3 = family("qwen3", "lm", true, true);
    let coder = family("qwen3_moe", "lm", true, false);
    let table = |version: Option<&str>, model: &str, family: &Option<FamilyInfo>| {
        plan(
            registry,
            &request("mlx-openai-server", model, family.clone(), version, None),
        )
    };
    let gemma = "mlx-community/gemma-4-26b-a4b-it-4bit";
    let qwen = "mlx-community/Qwen3-8B-4bit";
    let qwen_coder = "mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit";

    // gemma4 parsers came with 1.8: the 1.7.0 table has none; unknown and newer versions use
    // the newest release.
    for version in [None, Some("1.8.1"), Some("1.9.0"), Some("v2.0")] {
        assert_eq!(
            parser_pair(&table(version, gemma, &gemma4)),
            pair(Some("gemma4"), Some("gemma4")),
            "{version:?}"
        );
    }
    let (argv, logs) = common::capture_logs(|| table(Some("1.7.5"), gemma, &gemma4));
    assert_eq!(parser_pair(&argv), pair(None, None));
    assert!(
        logs.contains("not passing --tool-call-parser gemma4") && logs.contains("release 1.7.0"),
        "{logs}"
    );

    // Parser flags came in 1.4.0, --no-log-file in 1.3.12.
    let argv = table(Some("1.3.12"), qwen, &qwen3);
    assert_eq!(parser_pair(&argv), pair(None, None));
    assert!(argv.contains(&"--no-log-file".to_string()), "{argv:?}");
    let (argv, logs) = common::capture_logs(|| table(Some("1.3.0"), qwen, &qwen3));
    assert!(!argv.contains(&"--no-log-file".to_string()), "{argv:?}");
    assert!(logs.contains("has no --tool-call-parser option"), "{logs}");
    assert_eq!(
        parser_pair(&table(Some("1.4.0"), qwen, &qwen3)),
        pair(Some("qwen3"), Some("qwen3"))
    );
    // 1.4.x knew no qwen3_coder; 1.5.0 did.
    assert_eq!(
        parser_pair(&table(Some("1.4.2"), qwen_coder, &coder)),
        pair(None, None)
    );
    assert_eq!(
        parser_pair(&table(Some("1.5.0"), qwen_coder, &coder)),
        pair(Some("qwen3_coder"), None)
    );
    // Older than every known release: the oldest one, with a warning.
    let (argv, logs) = common::capture_logs(|| table(Some("1.2.9"), qwen, &qwen3));
    assert_valid(&argv, qwen, &[&release_for("1.3.0")], "1.2.9");
    assert!(logs.contains("older than every known release"), "{logs}");
}

#[test]
fn name_variants_refine_the_family_parsers() {
    let registry = builtins();
    let help = help_text("1.8.1");
    let cases = [
        // The repo name tells releases apart that share a model_type.
        (
            "mlx-community/Qwen3-4B-Thinking-2507-4bit",
            "qwen3",
            true,
            true,
            pair(Some("qwen3"), Some("qwen3_moe")),
        ),
        (
            "mlx-community/Qwen3-30B-A3B-Instruct-2507-4bit",
            "qwen3_moe",
            true,
            true,
            pair(Some("qwen3_moe"), None),
        ),
        (
            "mlx-community/Qwen3-Coder-Next-4bit",
            "qwen3_next",
            true,
            true,
            pair(Some("qwen3_coder"), None),
        ),
        (
            "mlx-community/QwQ-32B-4bit",
            "qwen2",
            true,
            true,
            pair(Some("hermes"), Some("qwen3_moe")),
        ),
        (
            "mlx-community/DeepSeek-R1-Distill-Qwen-7B",
            "qwen2",
            true,
            true,
            pair(None, Some("qwen3_moe")),
        ),
        (
            "mlx-community/Hermes-3-Llama-3.1-8B-4bit",
            "llama",
            true,
            true,
            pair(Some("hermes"), Some("hermes")),
        ),
        (
            "mlx-community/NVIDIA-Nemotron-3-Nano-30B-A3B-4bit",
            "nemotron_h",
            true,
            true,
            pair(Some("nemotron3_nano"), Some("nemotron3_nano")),
        ),
        (
            "mlx-community/GLM-4.7-Flash-4bit",
            "glm4_moe_lite",
            true,
            true,
            pair(Some("glm4_moe"), Some("glm47_flash")),
        ),
        (
            "mlx-community/Qwen3.5-35B-A3B-4bit",
            "qwen3_5_moe",
            true,
            true,
            pair(Some("qwen3_coder"), Some("qwen3_5")),
        ),
        // A Hugging Face cache path names its repo.
        (
            "/home/me/.cache/huggingface/hub/models--mlx-community--Qwen3-Coder-30B-A3B-Instruct-4bit/snapshots/0123abcd",
            "qwen3_moe",
            true,
            true,
            pair(Some("qwen3_coder"), None),
        ),
        // What detect-family says gates the parsers: no tool calls, no thinking, no parser.
        (
            "/models/plain",
            "qwen3",
            false,
            true,
            pair(None, Some("qwen3")),
        ),
        (
            "/models/plain",
            "qwen3",
            true,
            false,
            pair(Some("qwen3"), None),
        ),
        // Families whose tool format mlx-openai-server cannot read.
        (
            "mlx-community/Mistral-Small-24B-Instruct-2501-4bit",
            "mistral",
            true,
            false,
            pair(None, None),
        ),
        (
            "mlx-community/GLM-4-9B-0414-4bit",
            "glm4",
            false,
            false,
            pair(None, None),
        ),
    ];
    for (model, key, tool_calls, reasoning, expected) in cases {
        let argv = plan(
            registry,
            &request(
                "mlx-openai-server",
                model,
                family(key, "lm", tool_calls, reasoning),
                Some("1.8.1"),
                Some(&help),
            ),
        );
        assert_eq!(parser_pair(&argv), expected, "{model} ({key})");
    }
    // Without a family (detect-family had no opinion) the planner passes no parser.
    let argv = plan(
        registry,
        &request("mlx-openai-server", "/models/x", None, None, Some(&help)),
    );
    assert_eq!(parser_pair(&argv), pair(None, None));
    assert_eq!(value_of(&options_of(&argv), "--model-type"), Some("lm"));
}

#[test]
fn overrides_from_the_settings_apply_within_what_the_server_accepts() {
    let overrides = r#"{
        "all": {"args": {"mlx-openai-server": ["--queue-size", "10"]}},
        "families": {"qwen3": {
            "reasoning_parser": false,
            "args": {
                "mlx-openai-server": ["--context-length", "32768", "--kv-bits", "4", "--port", "9", "--log-level", "debug"],
                "mlx_lm": ["--max-tokens", "4096"]
            }
        }},
        "models": {"Qwen3-8B-4bit": {"tool_call_parser": "hermes"}}
    }"#;
    let mut settings = Settings::default();
    settings.plugin_config.insert(
        "launch-planner".into(),
        BTreeMap::from([(
            "overrides".to_string(),
            ConfigValue::String(overrides.into()),
        )]),
    );
    let registry = Registry::load(options(settings));
    let qwen3 = family("qwen3", "lm", true, true);
    let model = "mlx-community/Qwen3-8B-4bit";

    let help = help_text("1.7.1");
    let (argv, logs) = common::capture_logs(|| {
        plan(
            &registry,
            &request(
                "mlx-openai-server",
                model,
                qwen3.clone(),
                Some("1.7.1"),
                Some(&help),
            ),
        )
    });
    let options = options_of(&argv);
    assert_valid(
        &argv,
        model,
        &[&help_accepts("1.7.1")],
        "overrides on 1.7.1",
    );
    assert_eq!(parser_pair(&argv), pair(Some("hermes"), None));
    assert_eq!(value_of(&options, "--queue-size"), Some("10"));
    assert_eq!(value_of(&options, "--context-length"), Some("32768"));
    // A choice in another case is passed as the server lists it.
    assert_eq!(value_of(&options, "--log-level"), Some("DEBUG"));
    // 1.7.1 has no --kv-bits; mlx-host owns the port.
    assert!(value_of(&options, "--kv-bits").is_none(), "{argv:?}");
    assert!(
        logs.contains("has no --kv-bits option") && logs.contains("ignoring the override --port"),
        "{logs}"
    );

    // 1.8.1 has --kv-bits.
    let argv = plan(
        &registry,
        &request(
            "mlx-openai-server",
            model,
            qwen3.clone(),
            Some("1.8.1"),
            Some(&help_text("1.8.1")),
        ),
    );
    assert_eq!(value_of(&options_of(&argv), "--kv-bits"), Some("4"));

    // Other server kinds take their own arguments.
    let argv = plan(
        &registry,
        &request("mlx_lm", model, qwen3.clone(), None, None),
    );
    assert_eq!(
        argv,
        [
            "mlx_lm.server",
            "--model",
            model,
            "--host",
            HOST,
            "--port",
            "8123",
            "--max-tokens",
            "4096"
        ]
    );
}

#[test]
fn other_server_kinds_and_existing_plans() {
    let registry = builtins();
    let qwen3 = family("qwen3", "lm", true, true);
    for (kind, program) in [("mlx_lm", "mlx_lm.server"), ("mlx_vlm", "mlx_vlm.server")] {
        let argv = plan(
            registry,
            &request(kind, "/models/tiny", qwen3.clone(), Some("0.32.2"), None),
        );
        assert_eq!(
            argv,
            [
                program,
                "--model",
                "/models/tiny",
                "--host",
                HOST,
                "--port",
                "8123"
            ]
        );
    }
    // A `command` profile's argv and a plan that already has one are left as they are.
    let existing = LaunchPlan {
        argv: vec!["my-server".into(), "--flag".into()],
        env: vec![("A".into(), "1".into())],
    };
    for kind in ["command", "mlx-openai-server", "mlx_lm"] {
        let planned = registry.plan_launch(
            &request(kind, "/models/tiny", qwen3.clone(), None, None),
            existing.clone(),
        );
        assert_eq!(planned.plan, existing, "{kind}");
    }
    let planned = registry.plan_launch(
        &request("command", "/models/tiny", qwen3, None, None),
        LaunchPlan::default(),
    );
    assert!(planned.plan.argv.is_empty());
}

/// The checks above would catch a plan a release rejects.
#[test]
#[should_panic(expected = "--no-log-file is not a flag of mlx-openai-server-cli.json v1.3.0")]
fn the_check_rejects_a_flag_the_release_lacks() {
    let argv: Vec<String> = [
        "mlx-openai-server",
        "launch",
        "--model-path",
        "m",
        "--host",
        HOST,
        "--port",
        "8123",
        "--no-log-file",
    ]
    .map(str::to_string)
    .to_vec();
    assert_valid(&argv, "m", &[&release_for("1.3.0")], "self-check");
}

#[test]
#[should_panic(
    expected = "--tool-call-parser qwen3_next is not accepted by mlx-openai-server 1.8.1"
)]
fn the_check_rejects_a_parser_the_release_lacks() {
    let argv: Vec<String> = [
        "mlx-openai-server",
        "launch",
        "--model-path",
        "m",
        "--host",
        HOST,
        "--port",
        "8123",
        "--tool-call-parser",
        "qwen3_next",
    ]
    .map(str::to_string)
    .to_vec();
    assert_valid(&argv, "m", &[&help_accepts("1.8.1")], "self-check");
}
