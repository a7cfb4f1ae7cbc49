"""Live operations on a running lab: model edits → re-plan → apply only what changed."""
