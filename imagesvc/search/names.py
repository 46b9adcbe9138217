"""Name search on MySQL/MariaDB: every image's folded name held in the process, found by bytes.find.

SQLite finds a name term in its trigram index (migration 0006). MariaDB has no substring index
(InnoDB FULLTEXT's ngram parser is MySQL's alone, and matches words, not substrings), so a term
read every name there: about 26 ms at 100k images, for each term not asked before. Here the
names are UTF-8, one block of bytes per range of ids, and a term is found with ``bytes.find``,
which scans a block at memory speed: about a millisecond at 100k images. (A UTF-8 term matches
only whole characters of UTF-8 names, so searching bytes finds what searching text would.)
"""

import bisect
from array import array

from pyroaring import BitMap

# Ids whose names share one block: a changed name rewrites its block alone.
BLOCK_IDS = 4096
# Between two names in a block; a match that runs into it is no match.
SEPARATOR = b"\n"


class Block:
    """The names of some ids: their UTF-8 joined, where each starts, and the ids, in id order."""

    def __init__(self, names):
        """``names``: {id: folded name}."""
        self.ids = array("I", sorted(names))
        encoded = [names[image_id].encode() for image_id in self.ids]
        self.starts = array("I")
        start = 0
        for name in encoded:
            self.starts.append(start)
            start += len(name) + len(SEPARATOR)
        self.data = SEPARATOR.join(encoded)

    def names(self):
        """{id: folded name} of the block."""
        ends = [*self.starts[1:], len(self.data) + len(SEPARATOR)]
        return {image_id: self.data[start:end - len(SEPARATOR)].decode()
                for image_id, start, end in zip(self.ids, self.starts, ends, strict=True)}

    def find(self, term, found):
        """Add to ``found`` the ids whose name holds ``term`` (UTF-8)."""
        position = self.data.find(term)
        while position >= 0:
            index = bisect.bisect_right(self.starts, position) - 1
            end = self.starts[index + 1] - len(SEPARATOR) if index + 1 < len(self.starts) else len(self.data)
            if position + len(term) <= end:
                found.add(self.ids[index])
                position = self.data.find(term, end)  # on to the next name
            else:
                position = self.data.find(term, position + 1)


class NameSearch:
    """Every image's folded name, by blocks of ids."""

    def __init__(self, names):
        """``names``: {id: folded name} of every image."""
        by_block = {}
        for image_id, name in names.items():
            by_block.setdefault(image_id // BLOCK_IDS, {})[image_id] = name
        self.blocks = {number: Block(block_names) for number, block_names in by_block.items()}

    def find(self, term):
        """The ids whose folded name holds the folded ``term``."""
        found = BitMap()
        encoded = term.encode()
        for block in self.blocks.values():
            block.find(encoded, found)
        return found

    def update(self, names, removed):
        """Set the names of ``names`` ({id: folded name}) and drop the ids ``removed``."""
        touched = {image_id // BLOCK_IDS for image_id in (*names, *removed)}
        for number in touched:
            block = self.blocks.get(number)
            block_names = block.names() if block else {}
            for image_id in removed:
                block_names.pop(image_id, None)
            block_names.update((image_id, name) for image_id, name in names.items() if image_id // BLOCK_IDS == number)
            if block_names:
                self.blocks[number] = Block(block_names)
            else:
                self.blocks.pop(number, None)
