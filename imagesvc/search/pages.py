"""A page of the index's matches in a sort order, found without sorting every match (index.py)."""

from pyroaring import BitMap

# Matches sorted by their time rather than found by a walk, at most.
SORT_AT_MOST = 4096
# Ids walked at a time when a page is looked for; a block's matches are counted at once.
BLOCK = 4096


def sorted_by_time(matches, times, descending, offset, limit):
    """``limit`` ids of ``matches`` from ``offset`` on, sorted by their ``times``, then by id."""
    ids = matches.to_array()
    ids = sorted(ids[::-1] if descending else ids, key=times.__getitem__, reverse=descending)
    return ids[offset:offset + limit]


def walked(order, matches, descending, offset, limit, every):
    """``limit`` ids of ``matches`` from ``offset`` on, as ``order`` (all of ``every``, sorted)
    has them, found by a walk through its blocks."""
    total = len(matches)
    # From the nearer end: the last page costs what the first does.
    if offset > total // 2:
        return _walk(order, matches, descending, total - offset - limit, limit, every)[::-1]
    return _walk(order, matches, not descending, offset, limit, every)


def _walk(order, matches, forward, skip, limit, every):
    """``limit`` ids of ``matches`` in ``order`` (or backwards), after the first ``skip``."""
    everything = len(matches) == len(every)
    found = []
    size = len(order)
    starts = range(0, size, BLOCK) if forward else range(size - (size % BLOCK or BLOCK), -1, -BLOCK)
    for start in starts:
        block = order[start:start + BLOCK]
        count = len(block) if everything else matches.intersection_cardinality(BitMap(block))
        if skip >= count:
            skip -= count
            continue
        for image_id in (block if forward else reversed(block)):
            if everything or image_id in matches:
                if skip:
                    skip -= 1
                    continue
                found.append(image_id)
                if len(found) == limit:
                    return found
    return found
