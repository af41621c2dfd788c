{
    "name": "Self-Healing Chaos",
    "summary": "Inject real Odoo faults into a database marked for chaos, to prove Self-Healing heals them",
    "version": "1.0.0",
    "category": "Hidden/Tools",
    "website": "https://github.com/self-healing/self_healing",
    "author": "self_healing developers",
    "maintainers": ["self-healing"],
    "development_status": "Beta",
    "license": "LGPL-3",
    "depends": ["self_healing"],
    "data": [
        "security/ir.model.access.csv",
        "views/chaos_views.xml",
        "views/delivery_slot_views.xml",
    ],
    "installable": True,
}
