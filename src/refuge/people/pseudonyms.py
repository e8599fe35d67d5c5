"""Code names: neutral nature words, so a pseudonym says nothing about the person."""

from __future__ import annotations

import secrets

WORDS = (
    "ALDER ASPEN ASH BEECH BIRCH CEDAR CHERRY CYPRESS ELM FIR HAZEL HOLLY JUNIPER LARCH LINDEN "
    "MAPLE OAK OLIVE PINE POPLAR ROWAN SPRUCE WALNUT WILLOW YEW ACACIA LAUREL MYRTLE "
    "ALBATROSS CRANE CROW CUCKOO EAGLE EGRET FALCON FINCH GULL HAWK HERON HOOPOE IBIS KESTREL "
    "KITE LARK MAGPIE MERLIN NIGHTJAR ORIOLE OSPREY OWL PELICAN PETREL PLOVER RAVEN ROBIN "
    "SHRIKE SISKIN SPARROW STARLING STORK SWALLOW SWIFT TERN THRUSH WAGTAIL WREN "
    "AGATE AMBER BASALT BERYL COBALT CORAL FLINT GARNET GRANITE JADE JASPER MARBLE ONYX OPAL "
    "QUARTZ SLATE TOPAZ "
    "BROOK CANYON CLIFF DELTA DUNE FJORD GLACIER HARBOR ISLAND LAGOON MEADOW MESA PRAIRIE REEF "
    "RIDGE RIVER SUMMIT TUNDRA VALLEY "
    "AURORA COMET METEOR NEBULA ORBIT PULSAR QUASAR ZENITH MISTRAL MONSOON SIROCCO"
).split()


def random_pseudonym(taken: set[str] | None = None) -> str:
    """A free code name; adds a two-digit suffix once plain words run out or collide."""
    taken = taken or set()
    for _attempt in range(20):
        word = secrets.choice(WORDS)
        if word not in taken:
            return word
    while True:
        candidate = f"{secrets.choice(WORDS)}-{secrets.randbelow(90) + 10}"
        if candidate not in taken:
            return candidate
