from . import delivery_slot
