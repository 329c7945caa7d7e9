// Internal: a structural check of an HDF5 file image, run before libhdf5 sees the bytes.
//
// libhdf5 trusts the metadata of the original file format (no checksums): a single changed byte
// in a B-tree, heap or object header can make it read out of bounds, crash or loop forever. This
// walk visits every structure libhdf5 would follow from the superblock, and checks each address,
// size, count and signature against the file before anything follows it:
//   superblock 0/1 (8-byte offsets and lengths, no driver block), object headers version 1 and
//   their continuation chunks (messages tile each chunk exactly, no shared messages), groups as
//   symbol tables (B-tree version 1 group nodes, symbol table nodes, the local heap and its free
//   list; names NUL-terminated inside the heap, no soft links, no cycles), and objects that are
//   groups or datasets:
//     dataspace (version 1/2, rank <= 32, no overflow), datatype (IEEE float 16/32/64,
//     integers of 1-8 bytes, fixed strings, variable-length strings), fill value, layout
//     version 3 (contiguous inside the file with exactly numel·size bytes, or compact),
//     attributes (their type, space and data inside the message; variable-length strings'
//     global heap collections and objects inside the file), modification times, comments.
// Anything else — the HDF5 1.8+ format (superblock 2/3, OHDR headers, link messages, dense
// storage), chunked or filtered or external datasets, other datatypes, unknown messages — is
// refused by name: Keras and h5py write none of it by default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace lstmrt::formats_detail {

// Throws Error(kIoError) "SOURCE: corrupt or unsupported HDF5 file: WHAT at byte N" on the first
// structure that fails a check.
void check_hdf5_structure(const std::uint8_t* data, std::size_t size, const std::string& source);

}  // namespace lstmrt::formats_detail
