//! What the report reads from template.yaml.

/// The template's function memory size and how many alarms it declares.
pub(super) fn template_facts(template: &str) -> (f64, usize, String) {
    let memory = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("MemorySize: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(128.0);
    let alarms = template.matches("Type: AWS::CloudWatch::Alarm").count();
    let architecture = template
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Architecture:"))
        .find_map(|l| l.trim().strip_prefix("Default: "))
        .unwrap_or("arm64")
        .trim_matches('"')
        .to_owned();
    (memory, alarms, architecture)
}

pub(super) fn template_log_retention(template: &str) -> String {
    template
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("LogRetentionDays:"))
        .find_map(|l| l.trim().strip_prefix("Default: "))
        .unwrap_or("30")
        .to_owned()
}
