"""A page of the index's matches in a sort order, found without sorting every match (index.py)."""

import bisect
from array import array
from itertools import islice

from pyroaring import BitMap

# Matches sorted by their time rather than found by a walk, at most. A walk to a page in the
# middle of few matches counts those of half the blocks (~200 us at 1M images); sorting 128
# takes ~12 us, and past a few hundred the walk is the cheaper for the first pages.
SORT_AT_MOST = 128
# Ids an order puts in a block when made; a block grown to twice that is split in two.
BLOCK = 4096
# Sorting a block's matches by time costs, per match, about what scanning ten of its ids does.
SORT_COST = 10


class Order:
    """Ids in a sort order, in blocks, each kept with the bitmap of its ids: a walk counts a
    block's matches with one intersection (building the bitmap anew costs ~80 times more), and
    an id moved in or out changes one block and its bitmap, not every block after it."""

    def __init__(self, ids=(), times=None):
        """``ids``, in order; ``times``, by id, when that order is by time, then by id (its ids
        can then be moved; an order by name is read anew instead)."""
        self.times = times
        self._blocks = [array("I", ids[start:start + BLOCK]) for start in range(0, len(ids), BLOCK)]
        self._bitmaps = [BitMap(block) for block in self._blocks]

    def blocks(self, forward):
        """(ids, their bitmap) of every block, from the first, or backwards from the last."""
        if forward:
            return zip(self._blocks, self._bitmaps, strict=True)
        return zip(reversed(self._blocks), reversed(self._bitmaps), strict=True)

    def insert(self, image_id):
        """Put ``image_id`` in its place by its time."""
        if not self._blocks:
            self._blocks.append(array("I"))
            self._bitmaps.append(BitMap())
        n, place = self._place(image_id)
        self._blocks[n].insert(place, image_id)
        self._bitmaps[n].add(image_id)
        if len(self._blocks[n]) >= 2 * BLOCK:
            self._split(n)

    def remove(self, image_id):
        """Take out ``image_id``, its time still the one it was put in by."""
        n, place = self._place(image_id)
        del self._blocks[n][place]
        self._bitmaps[n].remove(image_id)
        # An emptied block goes; smaller ones stay as they are (the next load makes them anew).
        if not self._blocks[n]:
            del self._blocks[n], self._bitmaps[n]

    def _place(self, image_id):
        """(block, index in it) where ``image_id`` is or goes: no two ids have the same key."""
        key = self._key(image_id)
        # The first block whose last key is not below ``key``, else the last block.
        n = bisect.bisect_left(self._blocks, key, hi=len(self._blocks) - 1, key=lambda block: self._key(block[-1]))
        return n, bisect.bisect_left(self._blocks[n], key, key=self._key)

    def _key(self, image_id):
        return self.times[image_id], image_id

    def _split(self, n):
        block = self._blocks[n]
        halves = block[:len(block) // 2], block[len(block) // 2:]
        self._blocks[n:n + 1] = halves
        self._bitmaps[n:n + 1] = map(BitMap, halves)


def sorted_by_time(matches, times, descending, offset, limit):
    """``limit`` ids of ``matches`` from ``offset`` on, sorted by their ``times``, then by id."""
    ids = matches.to_array()
    ids = sorted(ids[::-1] if descending else ids, key=times.__getitem__, reverse=descending)
    return ids[offset:offset + limit]


def walked(order, matches, descending, offset, limit, every):
    """``limit`` ids of ``matches`` from ``offset`` on, as ``order`` (an Order of all of
    ``every``) has them, found by a walk through its blocks."""
    total = len(matches)
    # From the nearer end: the last page costs what the first does.
    if offset > total // 2:
        return _walk(order, matches, descending, total - offset - limit, limit, every)[::-1]
    return _walk(order, matches, not descending, offset, limit, every)


def _walk(order, matches, forward, skip, limit, every):
    """``limit`` ids of ``matches`` in ``order`` (or backwards), after the first ``skip``."""
    everything = len(matches) == len(every)
    found = []
    for block, bitmap in order.blocks(forward):
        count = len(block) if everything else matches.intersection_cardinality(bitmap)
        if skip >= count:
            skip -= count
            continue
        if everything:
            found += islice(block if forward else reversed(block), skip, skip + limit - len(found))
        else:
            found += _block_matches(order, block, bitmap, count, matches, forward, skip, limit - len(found))
        if len(found) == limit:
            break
        skip = 0
    return found


def _block_matches(order, block, bitmap, count, matches, forward, skip, limit):
    """``limit`` of the ``count`` ids of ``matches`` in one block of ``order`` (or backwards),
    after the first ``skip``."""
    # A scan for them reads about len(block) * (skip + limit) / count ids; sorting the block's
    # matches costs what a scan of SORT_COST ids per match does.
    if order.times is not None and count * count * SORT_COST < len(block) * (skip + limit):
        return sorted_by_time(matches & bitmap, order.times, not forward, skip, limit)
    ids = block if forward else reversed(block)
    return islice((image_id for image_id in ids if image_id in matches), skip, skip + limit)
