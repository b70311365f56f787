from dagster import DynamicPartitionsDefinition

# A distinctive name: dynamic partition names are shared by every code location of an instance.
paid_issues = DynamicPartitionsDefinition(name="paid_issues")
