from .label_sensor import paid_label_sensor

__all__ = ["paid_label_sensor"]
