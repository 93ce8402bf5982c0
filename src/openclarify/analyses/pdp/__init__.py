"""``methods.pdp``: partial dependence, registered as ``"pdp"`` in :data:`openclarify.analyses.ANALYSES`."""

from __future__ import annotations

from ._analysis import MAX_CATEGORIES, PdpAnalysis, PdpFeaturePlan, PdpPart, PdpPlan

__all__ = ["MAX_CATEGORIES", "PdpAnalysis", "PdpFeaturePlan", "PdpPart", "PdpPlan"]
