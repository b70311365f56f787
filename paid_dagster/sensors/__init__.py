from .costs_sensor import paid_late_costs_sensor
from .label_sensor import paid_label_sensor
from .pr_sensor import paid_pr_sensor
from .retry_sensor import paid_retry_sensor

__all__ = ["paid_label_sensor", "paid_late_costs_sensor", "paid_pr_sensor", "paid_retry_sensor"]
