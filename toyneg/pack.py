"""Packing: whole documents into full rows, each document its own attention block.

A training row of 0.4.0 held one claim document (a third of it padding) or a few bios, reading
tasks or questions run together (attention crossing from one into the next). A packed row is
filled with whole documents until no more fit (best fit over the pool's documents in a shuffled
order), and carries for every token its document's segment id (1, 2, ... within the row; 0 for
padding) and its position inside that document (restarting at 0), as in T5/seqio's and
MaxText's packed batches. The model attends only within a segment (`model.segment_bias`) and the
loss never predicts a document's first token from the one before (`train.make_train`), so every
document is computed exactly as if it sat alone at the start of a row: a packed batch differs from
an unpacked one only in how many documents it holds and which ones share a row.

Pure numpy on the host; the device only gathers rows (`train.make_train`'s `sample`).
"""

from __future__ import annotations

import bisect

import numpy as np


class PackError(ValueError):
    """A pool's documents do not fit its rows (a document longer than a row, or too many)."""


def best_fit(lengths: list, length: int, order: np.ndarray) -> list:
    """Rows of document indices: each document, in `order`, goes to the open row it fills
    most tightly (the one with the least room that still holds it), else to a new row."""
    rooms: list = []   # sorted remaining room of the open rows
    ids: list = []     # row index of each entry of `rooms` (same order)
    rows: list = []
    for i in order:
        n = int(lengths[i])
        if n > length:
            raise PackError(f"a document of {n} tokens does not fit a row of {length}")
        k = bisect.bisect_left(rooms, n)
        if k == len(rooms):
            rows.append([int(i)])
            room, r = length - n, len(rows) - 1
        else:
            room, r = rooms.pop(k) - n, ids.pop(k)
            rows[r].append(int(i))
        if room > 0:
            k = bisect.bisect_left(rooms, room)
            rooms.insert(k, room)
            ids.insert(k, r)
    return rows


def pack_docs(docs: list, length: int, capacity: int, pad: int, rng: np.random.Generator) -> dict:
    """Pack encoded documents `docs` [(token ids, span ids[, marks]), ...] into at most
    `capacity` rows of `length` tokens.  Returns {"tokens", "spans", "segs", "poss"[, "marks"]}:
    (capacity, length) int32 arrays (rows past the packed ones are padding) and "n_rows", the
    number of packed rows."""
    lengths = [len(d[0]) for d in docs]
    rows = best_fit(lengths, length, rng.permutation(len(docs))) if docs else []
    if len(rows) > capacity:
        raise PackError(f"{len(docs)} documents need {len(rows)} rows, more than the pool's "
                        f"{capacity}")
    keys = ("tokens", "spans", "segs", "poss") + (("marks",) if docs and len(docs[0]) > 2 else ())
    out = {k: np.zeros((capacity, length), np.int32) for k in keys}
    out["tokens"][:] = pad
    for r, members in enumerate(rows):
        at = 0
        for s, i in enumerate(members, start=1):
            tok, spn = docs[i][:2]
            n = len(tok)
            out["tokens"][r, at:at + n] = tok
            out["spans"][r, at:at + n] = spn
            if "marks" in out:
                out["marks"][r, at:at + n] = docs[i][2]
            out["segs"][r, at:at + n] = s
            out["poss"][r, at:at + n] = np.arange(n)
            at += n
    out["n_rows"] = len(rows)
    return out
