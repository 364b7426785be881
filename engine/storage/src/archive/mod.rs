//! Tar streams: safe extraction, whiteout conversion, tar-split, and the image archive formats.

pub mod beneath;
pub mod host_names;
pub mod load;
pub mod outer;
pub mod save;
pub mod tar_reader;
pub mod tar_safe;
pub mod tar_writer;
pub mod tarsplit;
pub mod whiteout;
