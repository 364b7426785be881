//! berth's storage: overlay2 (Docker-exact layout), vfs, layer store, image store, archives.
