//! Whiteouts both ways (reference §1.5): overlay's 0:0 char devices and opaque xattr on disk ⇄
//! `.wh.<name>` (0600 regular, uid/gid/mtime kept) and `.wh..wh..opq` (dir mode & 0777, mtime 0).

use berth_storage::archive::tar_reader::TarReader;
use berth_storage::archive::tar_safe::{self, Mode};
use berth_storage::archive::tar_writer::{write_tree, Whiteouts};
use berth_storage::archive::whiteout;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

#[test]
fn overlay_dir_to_tar_and_back() {
    let tmp = tempfile::tempdir().unwrap();
    let upper = tmp.path().join("upper");
    fs::create_dir_all(upper.join("bin")).unwrap();
    fs::create_dir_all(upper.join("data")).unwrap();
    fs::set_permissions(upper.join("data"), fs::Permissions::from_mode(0o750)).unwrap();
    nix::unistd::chown(&upper.join("data"), Some(7.into()), Some(8.into())).unwrap();
    whiteout::set_opaque(&upper.join("data")).unwrap();
    fs::write(upper.join("data/c"), "3\n").unwrap();
    whiteout::make_whiteout(&upper.join("bin/wget"), 1000, 1001).unwrap();
    let t = nix::sys::time::TimeSpec::new(1_700_000_000, 0);
    nix::sys::stat::utimensat(None, &upper.join("bin/wget"), &t, &t, nix::sys::stat::UtimensatFlags::NoFollowSymlink).unwrap();

    let tar = write_tree(&upper, Vec::new(), Whiteouts::FromOverlay).unwrap();
    let mut seen = Vec::new();
    let mut a = tar::Archive::new(&tar[..]);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        match name.as_str() {
            "bin/.wh.wget" => {
                assert_eq!(h.entry_type(), tar::EntryType::Regular);
                assert_eq!(h.mode().unwrap(), 0o600);
                assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (1000, 1001));
                assert_eq!(h.mtime().unwrap(), 1_700_000_000);
                assert_eq!(h.size().unwrap(), 0);
            }
            "data/.wh..wh..opq" => {
                assert_eq!(h.entry_type(), tar::EntryType::Regular);
                assert_eq!(h.mode().unwrap(), 0o750);
                assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (7, 8));
                assert_eq!(h.mtime().unwrap(), 0);
            }
            _ => {}
        }
        seen.push(name);
    }
    assert_eq!(seen, vec!["bin/", "bin/.wh.wget", "data/", "data/.wh..wh..opq", "data/c"], "opaque marker right after its dir");
    assert_eq!(&tar[tar.len() - 1024..], &[0u8; 1024][..], "ends with two zero blocks");
    assert_eq!(tar.len() % 512, 0);

    // and back: a fresh overlay diff dir gets the kernel's form again
    let back = tmp.path().join("back");
    fs::create_dir(&back).unwrap();
    let mut tr = TarReader::new(&tar[..], false);
    tar_safe::apply(&mut tr, &back, Mode::Overlay).unwrap();
    let m = fs::symlink_metadata(back.join("bin/wget")).unwrap();
    assert!(m.file_type().is_char_device() && m.rdev() == 0);
    assert_eq!((m.uid(), m.gid()), (1000, 1001));
    assert!(whiteout::is_opaque(&back.join("data")));
    assert!(!back.join("bin/.wh.wget").exists() && !back.join("data/.wh..wh..opq").exists());
    assert_eq!(fs::read_to_string(back.join("data/c")).unwrap(), "3\n");

    // vfs (naive) form: whiteouts delete, opaque clears what the parent copy had
    let naive = tmp.path().join("naive");
    fs::create_dir_all(naive.join("bin")).unwrap();
    fs::write(naive.join("bin/wget"), "old").unwrap();
    fs::create_dir_all(naive.join("data")).unwrap();
    fs::write(naive.join("data/old"), "old").unwrap();
    let mut tr = TarReader::new(&tar[..], false);
    tar_safe::apply(&mut tr, &naive, Mode::Naive).unwrap();
    assert!(!naive.join("bin/wget").exists());
    assert!(!naive.join("data/old").exists());
    assert_eq!(fs::read_to_string(naive.join("data/c")).unwrap(), "3\n");
}
