/**
 * Every number that fixes a byte of the file, in one place. FORMAT.md quotes these
 * values in its tables, and test/format/format-doc.test.ts checks that the two agree.
 * All multi-byte integers in the file are little-endian.
 */

/** "\x89CAMB\r\n\x1a": a high-bit byte catches 7-bit transfers, CR LF catches newline
 *  translation, 0x1A stops `type` on DOS (the PNG rationale). */
export const MAGIC = Uint8Array.of(0x89, 0x43, 0x41, 0x4d, 0x42, 0x0d, 0x0a, 0x1a)

/** Readers refuse files whose read version is above this; writers refuse files whose
 *  write version is above FORMAT_WRITE_VERSION (they may still open them read-only). */
export const FORMAT_READ_VERSION = 1
export const FORMAT_WRITE_VERSION = 1

/** File header, at offset 0, written once at creation and never again. */
export const HEADER_SIZE = 64
export const HEADER_MAGIC_OFFSET = 0
export const HEADER_MAGIC_SIZE = 8
export const HEADER_READ_VERSION_OFFSET = 8 // u16
export const HEADER_WRITE_VERSION_OFFSET = 10 // u16
export const HEADER_FLAGS_OFFSET = 12 // u32, must be 0 in version 1
export const HEADER_SALT_OFFSET = 16
export const HEADER_SALT_SIZE = 16
export const HEADER_CREATED_OFFSET = 32 // u64 ms since the Unix epoch
export const HEADER_BASE_SIZE_OFFSET = 40 // u64 file size when compaction wrote the file, 0 if created empty
export const HEADER_RESERVED_OFFSET = 48 // 12 bytes, must be 0
export const HEADER_RESERVED_SIZE = 12
export const HEADER_CRC_OFFSET = 60 // u32 CRC-32 of bytes [0, 60)

/**
 * Record framing. Every byte after the header belongs to exactly one record:
 *   u32 bodyLength | u8 kind | u8 flags | body | u32 crc
 * The CRC-32 covers the 6 framing bytes and the body. For commit records it is seeded
 * with the CRC of the file's salt, so a record copied from another file, or a value
 * crafted without knowing the salt, does not verify as a commit.
 */
export const RECORD_HEADER_SIZE = 6
export const RECORD_TRAILER_SIZE = 4
export const RECORD_OVERHEAD = RECORD_HEADER_SIZE + RECORD_TRAILER_SIZE
export const RECORD_LENGTH_OFFSET = 0 // u32
export const RECORD_KIND_OFFSET = 4 // u8
export const RECORD_FLAGS_OFFSET = 5 // u8, must be 0 in version 1

export const KIND_LEAF = 1
export const KIND_BRANCH = 2
export const KIND_VALUE = 3
export const KIND_COMMIT = 4

/** Record flags reserved for node-level transforms; a version-1 reader rejects them. */
export const RECORD_FLAG_COMPRESSED = 0x01
export const RECORD_FLAG_ENCRYPTED = 0x02

/** Leaf entry flags. */
export const ENTRY_FLAG_OUT_OF_LINE = 0x01
/** Reserved: a u48 expiry time (ms) follows the key. A version-1 reader rejects it. */
export const ENTRY_FLAG_EXPIRES = 0x02
export const ENTRY_FLAGS_KNOWN_V1 = ENTRY_FLAG_OUT_OF_LINE

/** Child offsets and out-of-line value offsets are u48: 256 TiB of file. */
export const OFFSET_SIZE = 6
export const MAX_FILE_OFFSET = 2 ** 48 - 1

/** Commit record body, fixed size. */
export const COMMIT_BODY_SIZE = 80
export const COMMIT_RECORD_SIZE = COMMIT_BODY_SIZE + RECORD_OVERHEAD
export const COMMIT_VERSION_OFFSET = 0 // u64
export const COMMIT_TIME_OFFSET = 8 // u64 ms since the Unix epoch, never below the previous commit's
export const COMMIT_ROOT_OFFSET = 16 // u64 offset of the root node record, 0 = empty tree
export const COMMIT_ROOT_CRC_OFFSET = 24 // u32 CRC of the root record
export const COMMIT_HEIGHT_OFFSET = 28 // u8 levels in the tree: 0 empty, 1 root is a leaf
export const COMMIT_RESERVED_OFFSET = 29 // u8, must be 0
export const COMMIT_FLAGS_OFFSET = 30 // u16
export const COMMIT_COUNT_OFFSET = 32 // u64 entries in the tree
export const COMMIT_TREE_BYTES_OFFSET = 40 // u64 bytes of all records reachable from the root
export const COMMIT_PREV_OFFSET = 48 // u64 previous commit record, 0 for the first
export const COMMIT_SKIP_OFFSET = 56 // u64 newest commit with version <= (version & (version - 1)), 0 if none
export const COMMIT_SYNCED_OFFSET = 64 // u64 every byte before this was durable when the record was written
export const COMMIT_SOURCE_OFFSET = 72 // u64 for a rollback: the version whose tree this commit restores

export const COMMIT_FLAG_ROLLBACK = 0x0001
export const COMMIT_FLAGS_KNOWN_V1 = COMMIT_FLAG_ROLLBACK

/** Limits (bytes). Keys are compared bytewise; the empty key is not allowed. */
export const MAX_KEY_SIZE = 4096
export const MAX_VALUE_SIZE = 2 ** 30
/** Leaf/branch entry counts are u16. */
export const MAX_NODE_ENTRIES = 0xffff
/** Tree height is a u8; a valid tree of MAX_KEY_SIZE keys never nears it. Reads stop
 *  below it, so a corrupt file cannot make a descent run forever. */
export const MAX_TREE_HEIGHT = 64

/** Writer policy (not a format constraint; any value reads back): */
/** Values longer than this are stored out of line, in their own record, so that
 *  rewriting the leaf on a later put does not copy them again (a quarter of a node). */
export const DEFAULT_INLINE_VALUE_MAX = 256
/** A node whose record (framing included) grows past this is split (if it holds >= 2 entries). */
export const DEFAULT_NODE_SIZE = 1024
/** When the bytes appended since the last fsync would exceed this, a commit syncs its
 *  nodes before writing its commit record, so recovery never verifies more than this. */
export const RECOVERY_WINDOW = 8 << 20
