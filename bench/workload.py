"""The records the benchmarks push: engagements of about 840 bytes of JSON, as a crew would send them."""

import uuid

NOTES = "Crew checked on a man near the bus shelter; offered water and a ride; he declined. " * 5


def engagement_fields(i):
    """About 840 bytes of JSON, like a real engagement; varied so rows are not identical."""
    return {
        "origin": ["on_view", "community_referral", "911_dispatch"][i % 3],
        "cad_number": f"P26-{i:07d}" if i % 3 == 2 else "",
        "call_type": "welfare check" if i % 3 == 2 else "",
        "needs": ["housing", "basic_needs"] if i % 2 else ["mental_health"],
        "persons": [{"alias": f"Person {i % 97}", "age_band": "35_44"}],
        "services": ["wellness_check", "resource_navigation"],
        "supplies": {"water": i % 5, "food": 1},
        "referrals": [{"to": "Roots Community Health Center", "kind": "warm_handoff"}],
        "disposition": "resolved_on_scene",
        "address": "International Blvd & 23rd Ave",
        "beat": "19X",
        "notes": NOTES[: 398 + i % 7],
    }


def creates(n, offset=0, seq_start=1):
    """n create mutations with fresh mutation and record ids, seqs from seq_start."""
    return [
        {
            "mutation_id": str(uuid.uuid4()),
            "seq": seq_start + i,
            "type": "engagement",
            "op": "create",
            "id": str(uuid.uuid4()),
            "fields": engagement_fields(offset + i),
        }
        for i in range(n)
    ]


def updates(ids, fields, base_version=1):
    """An update of each record in `ids` with the same fields, from `base_version`, with seqs from 1."""
    return [
        {
            "mutation_id": str(uuid.uuid4()),
            "seq": i + 1,
            "type": "engagement",
            "op": "update",
            "id": rid,
            "base_version": base_version,
            "fields": fields,
        }
        for i, rid in enumerate(ids)
    ]
