//! `Store::image_usage` (`GET /system/df`): LayersSize counts each layer once; SharedSize is what
//! an image shares with other images.

mod common;

use berth_storage::{DriverKind, ImportOptions, Store};
use common::*;

#[test]
fn layers_size_and_shared_size() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), DriverKind::Vfs).unwrap();
    let import =
        |tar: &[u8], r: &str| store.import(&mut &tar[..], &ImportOptions { reference: Some(r.into()), ..Default::default() }).unwrap();
    assert_eq!(store.image_usage(), Default::default());
    let a = make_tar(&[E::Dir("etc/"), E::File("etc/a", &[b'a'; 1000])]);
    let b = make_tar(&[E::File("b", &[b'b'; 300]), E::File("c", b"12345")]);
    let id1 = import(&a, "one:1");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let id2 = import(&a, "two:1");
    let id3 = import(&b, "three:1");
    let u = store.image_usage();
    assert_eq!(u.layers_size, 1305);
    assert_eq!(u.shared_size.len(), 3);
    assert_eq!((u.shared_size[&id1], u.shared_size[&id2], u.shared_size[&id3]), (1000, 1000, 0));
    store.remove_image("two:1", false, true, &[]).unwrap();
    let u = store.image_usage();
    assert_eq!((u.layers_size, u.shared_size[&id1], u.shared_size.len()), (1305, 0, 2));
}
