//! TEST FIXTURE, not a real plugin: the WASM half of the parity test. Its twin,
//! `tests/fixtures/lua/parity/init.lua`, implements the same logic in Lua; the host must give
//! identical answers for both over the same inputs.

use mlx_host_plugin_api::guest::{
    Diagnosis, ExitStatus, FamilyInfo, LaunchPlan, LaunchRequest, LogTail, ModelSource, Plugin,
    Severity,
};

mod markers;

use markers::{MARKERS, find_marker};

struct Parity;

impl Plugin for Parity {
    fn detect_error(tail: LogTail) -> Result<Option<Diagnosis>, String> {
        for (index, line) in tail.lines.iter().enumerate().rev() {
            if let Some(marker) = find_marker(line) {
                let (_, category, hint) = MARKERS[marker];
                return Ok(Some(Diagnosis {
                    category: category.into(),
                    severity: Severity::Fatal,
                    summary: line.trim().into(),
                    hint: hint.into(),
                    line: Some(index as u32),
                }));
            }
        }
        if let ExitStatus::Signaled(9) = tail.exit {
            return Ok(Some(Diagnosis {
                category: "killed".into(),
                severity: Severity::Error,
                summary: "killed by signal 9".into(),
                hint: "Something killed the server.".into(),
                line: None,
            }));
        }
        Ok(None)
    }

    fn detect_family(model: ModelSource) -> Result<Option<FamilyInfo>, String> {
        let Some(text) = model.config_json else {
            let Some(repo) = model.repo_id else {
                return Ok(None);
            };
            let last = repo.rsplit('/').next().unwrap_or_default().to_lowercase();
            let family = last.split('-').next().unwrap_or_default().to_string();
            if family.is_empty() {
                return Ok(None);
            }
            return Ok(Some(FamilyInfo {
                reasoning: family.contains("qwen3"),
                family,
                kind: "lm".into(),
                context_length: None,
                quantization_bits: None,
                tool_calls: false,
                min_mlx_lm: None,
            }));
        };
        let config: serde_json::Value =
            serde_json::from_str(&text).map_err(|error| format!("config.json: {error}"))?;
        let Some(family) = config.get("model_type").and_then(|value| value.as_str()) else {
            return Ok(None);
        };
        let number = |value: Option<&serde_json::Value>| value.and_then(serde_json::Value::as_f64);
        Ok(Some(FamilyInfo {
            family: family.to_string(),
            kind: if config.get("vision_config").is_some() {
                "multimodal"
            } else {
                "lm"
            }
            .into(),
            context_length: number(config.get("max_position_embeddings")).map(|n| n as u32),
            quantization_bits: number(config.get("quantization").and_then(|q| q.get("bits")))
                .map(|n| n as u8),
            tool_calls: false,
            reasoning: family.contains("qwen3"),
            min_mlx_lm: None,
        }))
    }

    fn plan_launch(request: LaunchRequest, mut plan: LaunchPlan) -> Result<LaunchPlan, String> {
        plan.argv.push("--parity".into());
        plan.argv.push(request.server_kind);
        plan.env.push(("PARITY".into(), request.port.to_string()));
        Ok(plan)
    }
}

mlx_host_plugin_api::export_plugin!(Parity);

#[cfg(test)]
mod tests {
    //! The marker search against its definition (one `contains` per marker).

    use crate::markers::{MARKERS, find_marker};

    #[test]
    fn agrees_with_one_contains_per_marker() {
        let lines = [
            "",
            "A",
            "N",
            "n",
            "OSError: [Errno 98] Address already in use",
            "Address already in use",
            "Address already in us",
            "AAddress already in use!",
            "No such file or directory: 'model.safetensors'",
            "No such file or director",
            "Model type foo not supported.",
            "not supporte",
            "not supported, and No such file or directory",
            "No such file or directory, and not supported",
            "not supported; No such file or directory; Address already in use",
            "Address already in use; not supported",
            "nnot supported NNo such file or directory AAddress already in use",
            "é Address already in use ü",
            "127.0.0.1 - - [21/Nov/2026 23:49:00] \"POST /v1/chat/completions HTTP/1.1\" 200 -",
            "2026-11-21 23:49:01,037 - INFO - Prompt processing progress: 1/17",
        ];
        for line in lines.iter().copied().map(String::from).chain(generated()) {
            let line = line.as_str();
            let by_contains = MARKERS.iter().position(|marker| line.contains(marker.0));
            assert_eq!(find_marker(line), by_contains, "{line:?}");
        }
    }

    /// Every arrangement of three pieces (markers, parts of markers, filler) around a filler of
    /// every length from 0 to 14, so markers land at every alignment with the window.
    fn generated() -> Vec<String> {
        let pieces = [
            "",
            "x",
            "Address already in use",
            "No such file or directory",
            "not supported",
            "Address alrea",
            "No such file ",
            "not supporte",
            "ddress already in use",
            "aaaaaaaaaaaaa",
            "dd d d",
        ];
        let mut lines = Vec::new();
        for first in pieces {
            for second in pieces {
                for third in pieces {
                    for pad in 0..15 {
                        let filler = "-".repeat(pad);
                        lines.push(format!("{first}{filler}{second}{third}"));
                        lines.push(format!("{filler}{first}{second}{filler}{third}"));
                    }
                }
            }
        }
        lines
    }
}
