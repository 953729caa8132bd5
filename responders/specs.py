from sync.registry import Policy, RecordSpec, register

from .models import Shift

SHIFT = register(
    RecordSpec(
        name="shift",
        model=Shift,
        programs=frozenset({"MACRO", "DVP"}),
        policies={
            "call_sign": Policy.SCALAR,
            "crew": Policy.SET,
            "started_at": Policy.SCALAR,
            "ended_at": Policy.SCALAR,
            "status_timeline": Policy.LIST,
            "calls_offered": Policy.LIST,
            "notes": Policy.TEXT,
        },
        people=("crew",),
        lock="self",
        read_only=("review_status", "submitted_at", "reviewed_at", "reviewed_by_id", "review_comment"),
    )
)
