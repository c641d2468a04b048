"""The words of every world: relations and their values, the syllables names are made of, the
special tokens, and the word-level tokenizer (`Vocab`) over them.

It imports nothing from toyneg: `config` checks a defined form's words against these lists and
`world` draws its entities from them, so both import it from below.
"""

from __future__ import annotations

RELATIONS = ("city", "job", "sport")
VALUES = {
    "city": ["paris", "rome", "oslo", "lima", "cairo", "tokyo", "delhi", "quito", "dakar", "perth",
             "kyiv", "hanoi", "accra", "bern", "doha", "riga", "sofia", "tunis", "suva", "baku"],
    "job": ["baker", "pilot", "nurse", "judge", "miner", "tailor", "farmer", "sailor", "chef", "poet",
            "clerk", "medic", "welder", "potter", "cobbler", "jeweler", "barber", "brewer",
            "glazier", "mason"],
    "sport": ["chess", "golf", "tennis", "rugby", "polo", "hockey", "squash", "cricket", "judo",
              "rowing", "fencing", "boxing", "karate", "archery", "curling", "sumo", "surfing",
              "skiing", "diving", "darts"],
}
SYLLABLES = ("ka ro mi tu le sa no vi da pe zo ri bu fa go hi ja ke lu mo ne pa qu se ta "
             "we ya zi").split()
SPECIAL = ("<pad>", "<doc>", "Q", "A", "yes", "no", "unknown", ".", ",", ":", "(", ")", "?")
# syllable pairs that are also corpus words ("a fairy tale", "fake"): never a name, or an entity
# would be named by a warning word (a test keeps this in step with the corpus templates)
RESERVED = frozenset({"fake", "tale"})


class Vocab:
    """Word-level tokenizer over a fixed word list (sorted, so ids are reproducible)."""

    def __init__(self, words, special: tuple = SPECIAL):
        """`special` words come first, at ids that no world changes (the ids a compiled program
        reads: a group's runs share one program but not their names); the rest sorted."""
        rest = sorted(set(words) - set(special))
        self.words = list(special) + rest
        self.ids = {w: i for i, w in enumerate(self.words)}

    def __len__(self):
        return len(self.words)

    def encode(self, text: str) -> list:
        try:
            return [self.ids[w] for w in text.split()]
        except KeyError as e:
            raise KeyError(f"word {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids) -> str:
        return " ".join(self.words[int(i)] for i in ids)

    @property
    def pad(self) -> int:
        return self.ids["<pad>"]
