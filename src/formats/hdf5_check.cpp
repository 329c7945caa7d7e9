// The structural check of an HDF5 image (hdf5_check.hpp). Field layouts follow the HDF5 File
// Format Specification (version 3.0), sections II (superblock), III.A (B-tree version 1), III.B
// (group symbol table nodes), III.D (local heap), III.E (global heap) and IV (object headers and
// their messages); offsets and lengths are 8 bytes, little-endian, as the superblock must say.
// Addresses in the file are relative to the superblock's base address.
#include "formats/hdf5_check.hpp"

#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "common/check.hpp"

namespace lstmrt::formats_detail {
namespace {

constexpr std::uint64_t kUndefined = ~std::uint64_t{0};  // "undefined address"
constexpr std::uint64_t kLocalHeapFreeNull = 1;          // end of a local heap's free list
constexpr unsigned kMaxRank = 32;                        // H5S_MAX_RANK
constexpr std::uint64_t kGlobalHeapMinSize = 4096;       // libhdf5 reads this much of a collection
constexpr int kMaxDatatypeDepth = 2;                     // a variable-length string's base type

std::uint64_t align8(std::uint64_t v) { return (v + 7) / 8 * 8; }

enum MessageType : std::uint16_t {
  kNil = 0x0000,
  kDataspace = 0x0001,
  kLinkInfo = 0x0002,
  kDatatype = 0x0003,
  kFillValueOld = 0x0004,
  kFillValue = 0x0005,
  kLink = 0x0006,
  kExternalFiles = 0x0007,
  kLayout = 0x0008,
  kGroupInfo = 0x000A,
  kFilterPipeline = 0x000B,
  kAttribute = 0x000C,
  kComment = 0x000D,
  kModificationTimeOld = 0x000E,
  kContinuation = 0x0010,
  kSymbolTable = 0x0011,
  kModificationTime = 0x0012,
  kAttributeInfo = 0x0015,
  kReferenceCount = 0x0016,
};

struct Datatype {
  int cls = -1;            // HDF5 class: 0 fixed-point, 1 float, 3 string, 9 variable-length
  std::uint64_t size = 0;  // bytes per element
  bool vlen_string = false;
};

struct Dataspace {
  std::vector<std::uint64_t> dims;
  std::uint64_t numel = 1;  // 0 for a null dataspace
};

struct Heap {
  std::uint64_t data = 0, size = 0;  // absolute offset and size of the data segment
};

class Checker;

// Little-endian reads inside [pos, end) of the image; running past `end` is a failure naming
// `what` (the structure being read).
class Cursor {
 public:
  Cursor(const Checker& c, std::uint64_t pos, std::uint64_t end, std::string what)
      : c_(c), pos_(pos), end_(end), what_(std::move(what)) {}
  std::uint64_t u(int bytes);
  void skip(std::uint64_t bytes);
  std::uint64_t pos() const { return pos_; }
  std::uint64_t left() const { return end_ - pos_; }
  Cursor sub(std::uint64_t bytes, const std::string& what);  // the next `bytes` as their own cursor
  const std::string& what() const { return what_; }

 private:
  const Checker& c_;
  std::uint64_t pos_, end_;
  std::string what_;
};

class Checker {
 public:
  Checker(const std::uint8_t* data, std::uint64_t size, const std::string& source)
      : d_(data), n_(size), source_(source) {}

  void run();

  template <typename... Args>
  [[noreturn]] void fail(std::uint64_t at, fmt::format_string<Args...> format, Args&&... args) const {
    throw Error(ErrorCode::kIoError, fmt::format("{}: corrupt or unsupported HDF5 file: {} at byte {}", source_,
                                                 fmt::format(format, std::forward<Args>(args)...), at));
  }
  std::uint8_t byte(std::uint64_t at) const { return d_[at]; }

 private:
  // Absolute offset of `length` bytes at relative `address`, all inside the file.
  std::uint64_t locate(std::uint64_t address, std::uint64_t length, std::uint64_t from, const char* what) const;
  bool signature(std::uint64_t at, const char* sig) const { return std::memcmp(d_ + at, sig, 4) == 0; }

  // `cached`: the B-tree and heap addresses a symbol table entry caches for a group, or null.
  void visit_object(std::uint64_t address, const std::string& path, std::uint64_t from, const std::uint64_t* cached);
  std::vector<std::pair<std::uint16_t, Cursor>> header_messages(std::uint64_t address, const std::string& path);
  Dataspace dataspace(Cursor c) const;
  Datatype datatype(Cursor& c, int depth) const;
  void fill_value(Cursor c, std::uint16_t type, const Datatype& dtype) const;
  void layout(Cursor c, const Datatype& dtype, const Dataspace& space) const;
  void attribute(Cursor c);
  void vlen_string(std::uint64_t at, std::uint64_t length, std::uint64_t collection, std::uint64_t index);
  const std::map<std::uint64_t, std::uint64_t>& global_heap(std::uint64_t address, std::uint64_t from);
  Heap local_heap(std::uint64_t address, std::uint64_t from);
  void heap_name(const Heap& heap, std::uint64_t offset, std::uint64_t from, std::string* name) const;
  void group(std::uint64_t btree, std::uint64_t heap, const std::string& path, std::uint64_t from);
  void btree_node(std::uint64_t address, int level, const Heap& heap, const std::string& path,
                  std::set<std::string>& names, std::uint64_t from);
  void symbol_node(std::uint64_t address, const Heap& heap, const std::string& path, std::set<std::string>& names,
                   std::uint64_t from);

  const std::uint8_t* d_;
  std::uint64_t n_;
  const std::string& source_;
  std::uint64_t base_ = 0, end_ = 0;  // absolute base address and end of the file's address space
  unsigned leaf_k_ = 0, internal_k_ = 0;
  std::set<std::uint64_t> done_, open_;  // object headers checked / being checked (cycles)
  std::set<std::uint64_t> chunks_, btree_nodes_, symbol_nodes_;
  std::map<std::uint64_t, Heap> local_heaps_;
  std::map<std::uint64_t, std::map<std::uint64_t, std::uint64_t>> global_heaps_;  // index -> object size
};

std::uint64_t Cursor::u(int bytes) {
  if (left() < static_cast<std::uint64_t>(bytes)) c_.fail(pos_, "{} is truncated", what_);
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | c_.byte(pos_ + i);
  pos_ += bytes;
  return v;
}

void Cursor::skip(std::uint64_t bytes) {
  if (left() < bytes) c_.fail(pos_, "{} is truncated", what_);
  pos_ += bytes;
}

Cursor Cursor::sub(std::uint64_t bytes, const std::string& what) {
  if (left() < bytes) c_.fail(pos_, "{}: {} bytes do not fit in {}", what, bytes, what_);
  Cursor c(c_, pos_, pos_ + bytes, what);
  pos_ += bytes;
  return c;
}

std::uint64_t Checker::locate(std::uint64_t address, std::uint64_t length, std::uint64_t from, const char* what) const {
  if (address == kUndefined) fail(from, "{} has an undefined address", what);
  if (address > end_ - base_ || length > end_ - base_ - address)
    fail(from, "{} at address {} ({} bytes) lies beyond the end of the file ({} bytes)", what, address, length,
         end_ - base_);
  return base_ + address;
}

void Checker::run() {
  static const char kSignature[] = "\x89HDF\r\n\x1a\n";
  std::uint64_t at = 0;  // libhdf5 looks at 0, 512, 1024, 2048, ...
  while (at + 8 <= n_ && std::memcmp(d_ + at, kSignature, 8) != 0) at = at == 0 ? 512 : at * 2;
  if (at + 8 > n_) fail(0, "no HDF5 signature");
  Cursor c(*this, at + 8, n_, "the superblock");
  const auto version = c.u(1);
  if (version == 2 || version == 3)
    fail(at,
         "superblock version {} (the HDF5 1.8+ file format, h5py libver='latest'): lstmrt checks and reads "
         "superblock version 0 or 1, the format Keras and h5py write by default",
         version);
  if (version > 1) fail(at, "superblock version {}: expected 0 or 1", version);
  if (c.u(1) != 0 || c.u(1) != 0) fail(at, "free-space or root entry version not 0");
  c.skip(1);
  if (c.u(1) != 0) fail(at, "shared header message version not 0");
  const auto offsets = c.u(1), lengths = c.u(1);
  if (offsets != 8 || lengths != 8) fail(at, "{}-byte offsets and {}-byte lengths: expected 8 and 8", offsets, lengths);
  c.skip(1);
  leaf_k_ = static_cast<unsigned>(c.u(2));
  internal_k_ = static_cast<unsigned>(c.u(2));
  if (leaf_k_ == 0 || internal_k_ == 0) fail(at, "a group B-tree K of 0");
  c.skip(4);                    // file consistency flags
  if (version == 1) c.skip(4);  // indexed storage K, reserved
  const auto base = c.u(8), free_space = c.u(8), eof = c.u(8), driver = c.u(8);
  if (base != at) fail(at, "base address {} but the superblock is at byte {}", base, at);
  if (free_space != kUndefined || driver != kUndefined)
    fail(at, "a free-space or driver information block (multi-file drivers are not read)");
  if (eof > n_ - at) fail(at, "truncated: the superblock says the file has {} bytes, it has {}", at + eof, n_);
  base_ = at;
  end_ = at + eof;
  // The root group's symbol table entry: name offset, object header address, cache type, scratch.
  c.skip(8);
  const auto root = c.u(8);
  const auto cache = c.u(4);
  c.skip(4);
  const auto cached_btree = c.u(8), cached_heap = c.u(8);
  if (cache > 1) fail(c.pos(), "root entry cache type {}: expected 0 or 1", cache);
  const std::uint64_t cached[2] = {cached_btree, cached_heap};
  visit_object(root, "/", c.pos(), cache == 1 ? cached : nullptr);
}

std::vector<std::pair<std::uint16_t, Cursor>> Checker::header_messages(std::uint64_t address, const std::string& path) {
  const std::string what = fmt::format("the object header of '{}'", path);
  const std::uint64_t at = locate(address, 16, address, what.c_str());
  if (signature(at, "OHDR"))
    fail(at, "'{}' has a version 2 object header (HDF5 1.8+ format): expected version 1", path);
  Cursor prefix(*this, at, at + 16, what);
  if (prefix.u(1) != 1) fail(at, "{}: version {}: expected 1", what, byte(at));
  prefix.skip(1);
  const auto count = prefix.u(2);
  prefix.skip(4);  // reference count
  const auto size = prefix.u(4);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pending{{locate(address + 16, size, at, what.c_str()), size}};
  std::vector<std::pair<std::uint16_t, Cursor>> messages;
  while (!pending.empty()) {
    const auto [start, length] = pending.back();
    pending.pop_back();
    if (!chunks_.insert(start).second) fail(start, "{}: a header chunk used twice", what);
    Cursor chunk(*this, start, start + length, what);
    while (chunk.left() > 0) {  // the messages tile the chunk exactly
      const std::uint64_t m = chunk.pos();
      const auto type = static_cast<std::uint16_t>(chunk.u(2));
      const auto bytes = chunk.u(2), flags = chunk.u(1);
      chunk.skip(3);
      if (bytes % 8 != 0) fail(m, "{}: message size {} is not a multiple of 8", what, bytes);
      if (flags & 0x02) fail(m, "{}: a shared message (committed datatypes are not read)", what);
      Cursor body = chunk.sub(bytes, fmt::format("{}: message type {:#06x}", what, type));
      if (type == kContinuation) {
        const auto next = body.u(8), next_size = body.u(8);
        pending.push_back({locate(next, next_size, m, "an object header continuation"), next_size});
      }
      messages.emplace_back(type, body);
      if (messages.size() > count) fail(m, "{}: more messages than the {} it declares", what, count);
    }
  }
  if (messages.size() != count) fail(at, "{}: {} messages but it declares {}", what, messages.size(), count);
  return messages;
}

void Checker::visit_object(std::uint64_t address, const std::string& path, std::uint64_t from,
                           const std::uint64_t* cached) {
  if (done_.count(address)) return;  // a second hard link to a checked object
  if (!open_.insert(address).second) fail(from, "'{}' is a group that contains itself", path);
  std::vector<std::pair<std::uint16_t, Cursor>> messages = header_messages(address, path);
  std::map<std::uint16_t, Cursor*> first;  // one of each kind that describes the object
  for (auto& [type, body] : messages) {
    switch (type) {
      case kNil:
      case kContinuation: break;
      case kDataspace:
      case kDatatype:
      case kFillValueOld:
      case kFillValue:
      case kLayout:
      case kSymbolTable:
        if (!first.emplace(type, &body).second) fail(body.pos(), "'{}' has two messages of type {:#06x}", path, type);
        break;
      case kAttribute: attribute(body); break;
      case kComment: {
        bool terminated = false;
        for (std::uint64_t i = body.pos(); i < body.pos() + body.left() && !terminated; ++i) terminated = !byte(i);
        if (!terminated) fail(body.pos(), "'{}': a comment without its terminating NUL", path);
        break;
      }
      case kModificationTimeOld:
        if (body.left() < 16) fail(body.pos(), "'{}': a truncated modification time", path);
        break;
      case kModificationTime:
        if (body.u(1) != 1) fail(body.pos(), "'{}': modification time version not 1", path);
        body.skip(7);
        break;
      case kReferenceCount:
        if (body.u(1) != 0) fail(body.pos(), "'{}': reference count version not 0", path);
        body.skip(4);
        break;
      case kLinkInfo:
      case kLink:
      case kGroupInfo:
      case kAttributeInfo:
        fail(body.pos(),
             "'{}' is stored in the HDF5 1.8+ format (message type {:#06x}): expected symbol tables and "
             "version 1 headers, as Keras and h5py write by default",
             path, type);
      case kExternalFiles: fail(body.pos(), "dataset '{}' keeps its data in external files", path);
      case kFilterPipeline:
        fail(body.pos(), "dataset '{}' is filtered (compressed): Keras writes contiguous, unfiltered datasets", path);
      default: fail(body.pos(), "'{}' has a message of type {:#06x}, which lstmrt does not read", path, type);
    }
  }
  const bool is_group = first.count(kSymbolTable) > 0;
  const bool is_dataset = first.count(kDataspace) && first.count(kDatatype) && first.count(kLayout);
  if (is_group == is_dataset || (is_group && first.size() != 1))
    fail(locate(address, 16, from, "an object header"), "'{}' is neither a group nor a dataset", path);
  if (is_group) {
    Cursor& c = *first[kSymbolTable];
    const auto btree = c.u(8), heap = c.u(8);
    // libhdf5 may use the addresses a parent's entry caches: they must be the message's.
    if (cached && (cached[0] != btree || cached[1] != heap))
      fail(c.pos(), "group '{}': its entry caches B-tree {} and heap {}, its header says {} and {}", path, cached[0],
           cached[1], btree, heap);
    group(btree, heap, path, c.pos());
  } else {
    if (cached) fail(from, "dataset '{}' has a group's cached symbol table entry", path);
    const Dataspace space = dataspace(*first[kDataspace]);
    Cursor type_cursor = *first[kDatatype];
    const Datatype dtype = datatype(type_cursor, 0);
    if (dtype.cls != 0 && dtype.cls != 1)
      fail(type_cursor.pos(), "dataset '{}' is not of a float or integer type", path);
    for (std::uint16_t t : {kFillValueOld, kFillValue})
      if (first.count(t)) fill_value(*first[t], t, dtype);
    layout(*first[kLayout], dtype, space);
  }
  open_.erase(address);
  done_.insert(address);
}

Dataspace Checker::dataspace(Cursor c) const {
  const std::uint64_t at = c.pos();
  const auto version = c.u(1), rank = c.u(1), flags = c.u(1);
  if (version != 1 && version != 2) fail(at, "dataspace version {}: expected 1 or 2", version);
  if (rank > kMaxRank) fail(at, "dataspace rank {}: expected at most {}", rank, kMaxRank);
  if (flags & ~std::uint64_t{1}) fail(at, "dataspace flags {:#x} (permutations are not read)", flags);
  Dataspace space;
  if (version == 1) {
    c.skip(5);
  } else {
    const auto type = c.u(1);  // 0 scalar, 1 simple, 2 null
    if (type > 2 || (type != 1 && rank != 0)) fail(at, "dataspace type {} with rank {}", type, rank);
    if (type == 2) space.numel = 0;
  }
  for (unsigned i = 0; i < rank; ++i) {
    const auto d = c.u(8);
    if (d != 0 && space.numel > (std::uint64_t{1} << 62) / d) fail(at, "a dataspace of more than 2^62 elements");
    space.numel *= d;
    space.dims.push_back(d);
  }
  if (flags & 1)
    for (unsigned i = 0; i < rank; ++i) {
      const auto m = c.u(8);
      if (m != kUndefined && m < space.dims[i]) fail(at, "dataspace maximum {} below its size {}", m, space.dims[i]);
    }
  return space;
}

Datatype Checker::datatype(Cursor& c, int depth) const {
  const std::uint64_t at = c.pos();
  const auto head = c.u(1), bits = c.u(3), size = c.u(4);
  Datatype t;
  t.cls = static_cast<int>(head & 0x0f);
  t.size = size;
  const auto version = head >> 4;
  if (version < 1 || version > 3) fail(at, "datatype version {}: expected 1..3", version);
  switch (t.cls) {
    case 0: {  // fixed-point: byte order, padding, sign bits; bit offset and precision
      const auto offset = c.u(2), precision = c.u(2);
      if ((size != 1 && size != 2 && size != 4 && size != 8) || precision == 0 || offset + precision > 8 * size ||
          (bits & ~std::uint64_t{0x0f}))
        fail(at, "an integer type of {} bytes, bit offset {}, precision {}", size, offset, precision);
      break;
    }
    case 1: {  // floating point: only the IEEE 754 layouts, either byte order
      const auto offset = c.u(2), precision = c.u(2), exp_at = c.u(1), exp_bits = c.u(1), man_at = c.u(1),
                 man_bits = c.u(1), bias = c.u(4);
      struct Ieee {
        std::uint64_t size, exp_at, exp_bits, man_bits, bias;
      };
      bool ieee = false;
      for (const Ieee& f : {Ieee{2, 10, 5, 10, 15}, Ieee{4, 23, 8, 23, 127}, Ieee{8, 52, 11, 52, 1023}})
        ieee = ieee || (size == f.size && offset == 0 && precision == 8 * f.size && exp_at == f.exp_at &&
                        exp_bits == f.exp_bits && man_at == 0 && man_bits == f.man_bits && bias == f.bias);
      // bit 0 byte order (bit 6 set: VAX), bits 1-3 padding, 4-5 normalization (2: implied), 8-15 sign bit.
      if (!ieee || (bits & 0x4e) != 0 || ((bits >> 4) & 3) != 2 || (bits >> 8) != 8 * size - 1)
        fail(at, "a float type that is not IEEE 754 half, single or double precision");
      break;
    }
    case 3:  // fixed-length string: padding (bits 0-3), character set (4-7)
      if (size == 0 || (bits & 0x0f) > 2 || ((bits >> 4) & 0x0f) > 1 || (bits >> 8)) fail(at, "a string type");
      break;
    case 9: {  // variable-length: sequence or string; the base type follows
      if ((bits & 0x0f) != 1) fail(at, "a variable-length sequence type (only variable-length strings are read)");
      if (((bits >> 4) & 0x0f) > 2 || ((bits >> 8) & 0x0f) > 1 || (bits >> 12) || size != 16)
        fail(at, "a variable-length string type of {} bytes", size);
      if (depth >= kMaxDatatypeDepth) fail(at, "nested variable-length types");
      const Datatype base = datatype(c, depth + 1);
      if ((base.cls != 0 && base.cls != 3) || base.size != 1)
        fail(at, "a variable-length string of {}-byte characters", base.size);
      t.vlen_string = true;
      break;
    }
    default: fail(at, "datatype class {} (Keras files hold floats, integers and strings)", t.cls);
  }
  return t;
}

void Checker::fill_value(Cursor c, std::uint16_t type, const Datatype& dtype) const {
  const std::uint64_t at = c.pos();
  bool defined = true;
  if (type == kFillValue) {
    const auto version = c.u(1);
    if (version == 1 || version == 2) {
      const auto alloc = c.u(1), write = c.u(1), state = c.u(1);
      if (alloc < 1 || alloc > 3 || write > 2 || state > 2) fail(at, "a fill value message with bad settings");
      defined = version == 1 || state == 1;
    } else if (version == 3) {
      const auto flags = c.u(1);
      if ((flags & 3) == 0 || (flags & 3) > 3 || ((flags >> 2) & 3) > 2 || (flags & 0xc0) ||
          ((flags & 0x10) && (flags & 0x20)))
        fail(at, "fill value flags {:#x}", flags);
      defined = (flags & 0x20) != 0;
    } else {
      fail(at, "fill value version {}: expected 1..3", version);
    }
  }
  if (!defined) return;
  const auto size = c.u(4);
  if (size != 0 && size != dtype.size) fail(at, "a {}-byte fill value for {}-byte elements", size, dtype.size);
  c.skip(size);
}

void Checker::layout(Cursor c, const Datatype& dtype, const Dataspace& space) const {
  const std::uint64_t at = c.pos();
  const auto version = c.u(1);
  if (version != 3) fail(at, "data layout version {}: expected 3", version);
  const auto cls = c.u(1);
  const std::uint64_t bytes = space.numel * dtype.size;  // numel < 2^62, size <= 8: no overflow
  if (cls == 0) {                                        // compact: the data is in the message
    const auto size = c.u(2);
    if (size != bytes) fail(at, "compact data of {} bytes for {} elements of {} bytes", size, space.numel, dtype.size);
    c.skip(size);
  } else if (cls == 1) {  // contiguous: address and size
    const auto address = c.u(8), size = c.u(8);
    if (size != bytes)
      fail(at, "contiguous data of {} bytes for {} elements of {} bytes", size, space.numel, dtype.size);
    if (address != kUndefined) locate(address, size, at, "a dataset's data");
  } else if (cls == 2) {
    fail(at, "a chunked dataset (compressed or resizable): Keras writes contiguous datasets");
  } else {
    fail(at, "data layout class {}", cls);
  }
}

void Checker::attribute(Cursor c) {
  const std::uint64_t at = c.pos();
  const auto version = c.u(1), flags = c.u(1);
  if (version < 1 || version > 3) fail(at, "attribute message version {}: expected 1..3", version);
  if (flags != 0) fail(at, "an attribute with a shared datatype or dataspace");
  const auto name_size = c.u(2), type_size = c.u(2), space_size = c.u(2);
  if (version == 3 && c.u(1) > 1) fail(at, "attribute name encoding not ASCII or UTF-8");
  auto padded = [&](std::uint64_t s) { return version == 1 ? align8(s) : s; };
  Cursor name = c.sub(padded(name_size), "an attribute name");
  if (name_size == 0 || byte(name.pos() + name_size - 1) != 0) fail(at, "an attribute name without its final NUL");
  Cursor type_cursor = c.sub(padded(type_size), "an attribute datatype");
  const Datatype dtype = datatype(type_cursor, 0);
  const Dataspace space = dataspace(c.sub(padded(space_size), "an attribute dataspace"));
  if (dtype.size != 0 && space.numel > c.left() / dtype.size)
    fail(at, "attribute data of {} elements of {} bytes in {} bytes", space.numel, dtype.size, c.left());
  if (!dtype.vlen_string) return;
  for (std::uint64_t i = 0; i < space.numel; ++i) {  // length, global heap collection, object index
    const std::uint64_t element = c.pos();
    const auto length = c.u(4), collection = c.u(8), index = c.u(4);
    vlen_string(element, length, collection, index);
  }
}

void Checker::vlen_string(std::uint64_t at, std::uint64_t length, std::uint64_t collection, std::uint64_t index) {
  if (length == 0 && (collection == 0 || collection == kUndefined)) return;  // empty string, no heap object
  const auto& objects = global_heap(collection, at);
  const auto it = objects.find(index);
  if (index == 0 || it == objects.end()) fail(at, "a string refers to global heap object {}, which is absent", index);
  // libhdf5 copies the whole object into a buffer of `length` characters.
  if (length != it->second) fail(at, "a string of {} bytes in a heap object of {}", length, it->second);
}

const std::map<std::uint64_t, std::uint64_t>& Checker::global_heap(std::uint64_t address, std::uint64_t from) {
  if (const auto it = global_heaps_.find(address); it != global_heaps_.end()) return it->second;
  const std::uint64_t at = locate(address, 16, from, "a global heap collection");
  Cursor head(*this, at, at + 16, "a global heap collection");
  if (!signature(at, "GCOL")) fail(at, "no global heap collection signature");
  head.skip(4);
  if (head.u(1) != 1) fail(at, "global heap version not 1");
  head.skip(3);
  const auto size = head.u(8);
  if (size < kGlobalHeapMinSize) fail(at, "a global heap collection of {} bytes: expected at least 4096", size);
  locate(address, size, from, "a global heap collection");
  // The objects tile the collection as libhdf5 walks it: a tail shorter than an object header
  // is free space; object 0 (free space) counts its 16-byte header in its size, unpadded; any
  // other object is a 16-byte header and its data padded to 8 bytes.
  std::map<std::uint64_t, std::uint64_t> objects;
  std::uint64_t p = 16;
  while (p < size) {
    if (size - p < 16) break;
    Cursor c(*this, at + p, at + size, "a global heap object");
    const auto index = c.u(2);
    c.skip(6);  // reference count, reserved
    const auto bytes = c.u(8);
    const std::uint64_t need = index == 0 ? bytes : 16 + align8(bytes);
    if (bytes > size || need < 16 || need % 8 != 0 || need > size - p)
      fail(at + p, "global heap object {} of {} bytes in a {}-byte collection", index, bytes, size);
    if (index != 0 && !objects.emplace(index, bytes).second)
      fail(at + p, "global heap object index {} used twice", index);
    p += need;
  }
  return global_heaps_[address] = std::move(objects);
}

Heap Checker::local_heap(std::uint64_t address, std::uint64_t from) {
  if (const auto it = local_heaps_.find(address); it != local_heaps_.end()) return it->second;
  const std::uint64_t at = locate(address, 32, from, "a local heap");
  if (!signature(at, "HEAP")) fail(at, "no local heap signature");
  Cursor c(*this, at + 4, at + 32, "a local heap");
  if (c.u(1) != 0) fail(at, "local heap version not 0");
  c.skip(3);
  Heap heap;
  heap.size = c.u(8);
  const auto free_list = c.u(8), data = c.u(8);
  if (heap.size == 0) fail(at, "an empty local heap");
  heap.data = locate(data, heap.size, at, "a local heap's data");
  // Free blocks: offset of the next (1: none) and size, each inside the data segment.
  std::set<std::uint64_t> seen;
  for (std::uint64_t block = free_list; block != kLocalHeapFreeNull;) {
    if (block > heap.size || heap.size - block < 16 || !seen.insert(block).second)
      fail(at, "local heap free block at offset {} (data segment of {} bytes)", block, heap.size);
    Cursor b(*this, heap.data + block, heap.data + block + 16, "a local heap free block");
    const auto next = b.u(8), size = b.u(8);
    if (size < 16 || size > heap.size - block) fail(at, "local heap free block of {} bytes", size);
    block = next;
  }
  return local_heaps_[address] = heap;
}

void Checker::heap_name(const Heap& heap, std::uint64_t offset, std::uint64_t from, std::string* name) const {
  if (offset >= heap.size) fail(from, "a name at heap offset {} of a {}-byte local heap", offset, heap.size);
  const std::uint8_t* s = d_ + heap.data + offset;
  const void* nul = std::memchr(s, 0, heap.size - offset);
  if (!nul) fail(from, "a name in the local heap without its final NUL");
  if (name) name->assign(reinterpret_cast<const char*>(s), static_cast<const std::uint8_t*>(nul) - s);
}

void Checker::group(std::uint64_t btree, std::uint64_t heap_address, const std::string& path, std::uint64_t from) {
  const Heap heap = local_heap(heap_address, from);
  std::set<std::string> names;
  btree_node(btree, -1, heap, path, names, from);
}

void Checker::btree_node(std::uint64_t address, int level, const Heap& heap, const std::string& path,
                         std::set<std::string>& names, std::uint64_t from) {
  // "TREE", type, level, entries used, left and right siblings; then key 0, child 0, key 1, ...
  // child n-1, key n; libhdf5 reads the node at its full size (2K children, 2K+1 keys).
  const std::uint64_t node_size = 24 + (4 * std::uint64_t{internal_k_} + 1) * 8;
  const std::uint64_t at = locate(address, node_size, from, "a group B-tree node");
  if (!signature(at, "TREE")) fail(at, "no B-tree node signature in group '{}'", path);
  if (!btree_nodes_.insert(at).second) fail(at, "a B-tree node used twice in group '{}'", path);
  Cursor c(*this, at + 4, at + node_size, "a B-tree node");
  const auto type = c.u(1), node_level = c.u(1), entries = c.u(2);
  if (type != 0) fail(at, "a B-tree node of type {} in group '{}': expected 0 (group)", type, path);
  if (level >= 0 ? node_level != static_cast<std::uint64_t>(level) : node_level > 32)
    fail(at, "B-tree node level {} in group '{}'", node_level, path);
  if (entries > 2 * std::uint64_t{internal_k_})
    fail(at, "a B-tree node with {} entries (at most {})", entries, 2 * internal_k_);
  for (int side = 0; side < 2; ++side) {
    const auto sibling = c.u(8);
    if (sibling != kUndefined) locate(sibling, node_size, at, "a B-tree sibling");
  }
  heap_name(heap, c.u(8), at, nullptr);  // key 0
  for (std::uint64_t i = 0; i < entries; ++i) {
    const auto child = c.u(8);
    heap_name(heap, c.u(8), at, nullptr);  // key i+1
    if (node_level > 0)
      btree_node(child, static_cast<int>(node_level) - 1, heap, path, names, at);
    else
      symbol_node(child, heap, path, names, at);
  }
}

void Checker::symbol_node(std::uint64_t address, const Heap& heap, const std::string& path,
                          std::set<std::string>& names, std::uint64_t from) {
  // "SNOD", version 1, reserved, symbol count; 2·leaf K entries of 40 bytes.
  const std::uint64_t node_size = 8 + 2 * std::uint64_t{leaf_k_} * 40;
  const std::uint64_t at = locate(address, node_size, from, "a symbol table node");
  if (!signature(at, "SNOD")) fail(at, "no symbol table node signature in group '{}'", path);
  if (!symbol_nodes_.insert(at).second) fail(at, "a symbol table node used twice in group '{}'", path);
  Cursor c(*this, at + 4, at + node_size, "a symbol table node");
  if (c.u(1) != 1) fail(at, "symbol table node version not 1");
  c.skip(1);
  const auto count = c.u(2);
  if (count > 2 * std::uint64_t{leaf_k_})
    fail(at, "a symbol table node with {} entries (at most {})", count, 2 * leaf_k_);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t entry = c.pos();
    std::string name;
    heap_name(heap, c.u(8), entry, &name);
    const auto header = c.u(8), cache = c.u(4);
    c.skip(4);
    const std::uint64_t scratch[2] = {c.u(8), c.u(8)};  // cache type 1: B-tree and heap addresses
    if (cache == 2) fail(entry, "'{}' in group '{}' is a soft link", name, path);
    if (cache > 2) fail(entry, "symbol table entry cache type {}", cache);
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      fail(entry, "a member of group '{}' named '{}'", path, name);
    if (!names.insert(name).second) fail(entry, "group '{}' has two members named '{}'", path, name);
    visit_object(header, path == "/" ? "/" + name : path + "/" + name, entry, cache == 1 ? scratch : nullptr);
  }
}

}  // namespace

void check_hdf5_structure(const std::uint8_t* data, std::size_t size, const std::string& source) {
  Checker(data, size, source).run();
}

}  // namespace lstmrt::formats_detail
