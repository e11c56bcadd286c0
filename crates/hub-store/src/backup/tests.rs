use hub_core::testkit::province;

use super::*;

/// A store with a province and two media files, and its media directory.
fn populated(dir: &Path) -> (Store, PathBuf) {
    let store = Store::open(&dir.join("data")).unwrap();
    store.import_province(&province()).unwrap();
    let media = dir.join("data").join("media");
    fs::create_dir_all(&media).unwrap();
    for content in [b"first file".as_slice(), b"second file"] {
        let name: String = Sha256::digest(content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        fs::write(media.join(name), content).unwrap();
    }
    fs::write(media.join("not-a-hash.tmp"), b"left out").unwrap();
    (store, media)
}

#[test]
fn a_backup_restores_every_record_and_media_file_into_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (store, media) = populated(dir.path());
    let file = dir.path().join("backup.nguon");
    let written = write_backup(&store, &media, &file).unwrap();
    assert_eq!(written.media_files, 2);
    assert!(written.records > 10, "{written:?}");

    let restored_dir = dir.path().join("restored");
    let restored = restore_backup(&file, &restored_dir, "media").unwrap();
    assert_eq!(restored, written);
    let original = store.snapshot().unwrap();
    drop(store);
    let copy = Store::open(&restored_dir).unwrap();
    assert_eq!(copy.snapshot().unwrap(), original);
    assert_eq!(
        copy.load_province().unwrap().devices().count(),
        province().devices().count()
    );
    let mut names: Vec<String> = fs::read_dir(restored_dir.join("media"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, media_files(&media).unwrap());
}

#[test]
fn a_damaged_or_truncated_backup_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (store, media) = populated(dir.path());
    let file = dir.path().join("backup.nguon");
    write_backup(&store, &media, &file).unwrap();
    let good = fs::read(&file).unwrap();

    let truncated = dir.path().join("truncated.nguon");
    fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    let damaged = dir.path().join("flipped.nguon");
    fs::write(&damaged, &flipped).unwrap();
    let other = dir.path().join("other.nguon");
    fs::write(&other, b"PK\x03\x04 a zip file").unwrap();

    for (bad, expected) in [
        (&truncated, "damaged or truncated"),
        (&damaged, "damaged or truncated"),
        (&other, "not a Nguồn backup"),
    ] {
        let target = dir.path().join("target");
        let err = restore_backup(bad, &target, "media").expect_err("refused");
        assert!(err.to_string().contains(expected), "{err}");
        assert!(!target.exists(), "nothing written for {}", bad.display());
    }

    // Nor into a directory that holds something.
    let occupied = dir.path().join("occupied");
    fs::create_dir_all(&occupied).unwrap();
    fs::write(occupied.join("keep.txt"), b"mine").unwrap();
    let err = restore_backup(&file, &occupied, "media").expect_err("refused");
    assert!(matches!(err, BackupError::NotEmpty(_)), "{err}");
    assert_eq!(fs::read(occupied.join("keep.txt")).unwrap(), b"mine");
}
