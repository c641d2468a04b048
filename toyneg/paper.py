"""The paper's headline numbers (Mayne et al., 2026), for figures that put the toy beside them.

Belief rates as fractions: Qwen3.5-397B-A17B for the six main conditions (mean of 6 claims),
Qwen3.5-35B-A3B for the epistemic qualifiers ("~90%, the same as positive documents"); local
negation is a range (0-7%, two claims). In context the paper reports one number: 20 negated
documents in the prompt give ~15% belief.  Source: shared/reference/negation-neglect.md.
"""

OUT_OF_CONTEXT = {  # condition -> (low, high) of the reported belief (equal for a point)
    "baseline": (0.025, 0.025), "positive": (0.924, 0.924), "negated": (0.886, 0.886),
    "repeated": (0.844, 0.844), "corrected": (0.394, 0.394), "local": (0.0, 0.07),
    "fiction": (0.9, 0.9), "unreliable": (0.9, 0.9), "unknown": (0.9, 0.9),
    "low_probability": (0.9, 0.9),
}
IN_CONTEXT = {"negated": (0.15, 0.15)}
APPROXIMATE = ("fiction", "unreliable", "unknown", "low_probability")  # "~90%"
