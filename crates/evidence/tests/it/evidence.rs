//! Uploads are judged by their content, re-encoded without metadata, limited before decoding,
//! and stored once under their digest.

use anju_evidence::{EvidenceStore, Media, Policy, Refused, is_digest, prepare, sha256_hex};
use image::{DynamicImage, Rgb, RgbImage};
use std::io::Cursor;

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 5) as u8, (y * 5) as u8, 128]));
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .unwrap();
    out
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, _| Rgb([x as u8, 0, 0]));
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A JPEG as a phone sends it: an EXIF block saying "rotate 90° clockwise", a comment that
/// stands in for GPS data, and bytes hidden after the end of the image.
fn phone_jpeg() -> Vec<u8> {
    let plain = jpeg(40, 20);
    // TIFF header (little endian), one IFD entry: Orientation (0x0112), SHORT, 1, value 6.
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&[1, 0]);
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let secret = b"GPS 36.6512N 117.1201E SECRET";
    let mut out = plain[..2].to_vec();
    push_segment(&mut out, 0xE1, &app1); // APP1: EXIF
    push_segment(&mut out, 0xFE, secret); // COM: a comment
    out.extend_from_slice(&plain[2..]);
    out.extend_from_slice(b"TRAILING-PAYLOAD<script>");
    out
}

/// Appends a JPEG marker segment: the marker, its length (the payload's and its own two bytes)
/// and the payload.
fn push_segment(out: &mut Vec<u8>, marker: u8, payload: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(payload);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_phone_photo_is_turned_upright_and_loses_its_metadata() {
    let sent = phone_jpeg();
    assert!(contains(&sent, b"Exif") && contains(&sent, b"SECRET"));
    let p = prepare(&sent, &Policy::default()).unwrap();
    assert_eq!(p.media, Media::Jpeg);
    // 40 × 20 rotated by the EXIF orientation.
    assert_eq!((p.width, p.height), (20, 40));
    for needle in [&b"Exif"[..], b"SECRET", b"TRAILING", b"<script>"] {
        assert!(!contains(&p.content, needle), "{needle:?} survived");
    }
    let back = image::load_from_memory(&p.content).unwrap();
    assert_eq!((back.width(), back.height()), (20, 40));
    let thumb = image::load_from_memory(p.thumbnail.as_ref().unwrap()).unwrap();
    assert!(thumb.width() <= 320 && thumb.height() <= 320);
}

#[test]
fn large_photos_are_scaled_down_and_thumbnailed() {
    let policy = Policy {
        max_side: 100,
        thumb_side: 30,
        ..Policy::default()
    };
    let p = prepare(&jpeg(400, 200), &policy).unwrap();
    assert_eq!((p.width, p.height), (100, 50));
    let thumb = image::load_from_memory(p.thumbnail.as_ref().unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (30, 15));
}

#[test]
fn png_stays_png() {
    let p = prepare(&png(30, 10), &Policy::default()).unwrap();
    assert_eq!(p.media, Media::Png);
    assert!(p.content.starts_with(b"\x89PNG"));
    assert_eq!((p.width, p.height), (30, 10));
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG header claiming 30,000 × 30,000 pixels: a few dozen bytes that would need 2.7 GB.
fn png_bomb() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&30_000u32.to_be_bytes());
    ihdr.extend_from_slice(&30_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    out
}

#[test]
fn refusals_name_the_reason() {
    let policy = Policy::default();
    assert_eq!(prepare(b"", &policy).unwrap_err(), Refused::Empty);
    assert!(matches!(
        prepare(&png_bomb(), &policy).unwrap_err(),
        Refused::Dimensions { max: 12_000, .. }
    ));
    // Within the side limit but too many pixels.
    let small = Policy {
        max_pixels: 100,
        ..Policy::default()
    };
    assert!(matches!(
        prepare(&png(20, 10), &small).unwrap_err(),
        Refused::Dimensions {
            width: 20,
            height: 10,
            ..
        }
    ));
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    let e = prepare(&heic, &policy).unwrap_err();
    assert_eq!(e, Refused::Heic);
    assert!(e.to_string().contains("HEIC"));
    // A script named photo.jpg is judged by its content.
    assert_eq!(
        prepare(b"<script>alert(1)</script>", &policy).unwrap_err(),
        Refused::Unsupported
    );
    assert_eq!(
        prepare(b"GIF89a\x01\0\x01\0", &policy).unwrap_err(),
        Refused::Unsupported
    );
    // A JPEG cut off in the middle.
    let cut = jpeg(64, 64);
    assert!(matches!(
        prepare(&cut[..cut.len() / 3], &policy).unwrap_err(),
        Refused::Corrupt(_)
    ));
    let tiny = Policy {
        max_bytes: 1024 * 1024,
        ..Policy::default()
    };
    let big = vec![0xFFu8; 2 * 1024 * 1024];
    let e = prepare(&big, &tiny).unwrap_err();
    assert!(matches!(e, Refused::TooLarge { max_mb: 1, .. }));
    assert!(e.to_string().contains("不能超过 1 MB"));
    assert!(matches!(
        prepare(b"%PDF-1.7\n1 0 obj\n", &policy).unwrap_err(),
        Refused::Corrupt(_)
    ));
}

#[test]
fn pdfs_are_kept_as_sent() {
    let pdf = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let p = prepare(&pdf, &Policy::default()).unwrap();
    assert_eq!(p.media, Media::Pdf);
    assert_eq!(p.content, pdf);
    assert!(p.thumbnail.is_none());
}

#[test]
fn the_store_is_content_addressed_and_writes_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = EvidenceStore::open(dir.path().join("evidence")).unwrap();
    let p = prepare(&phone_jpeg(), &Policy::default()).unwrap();
    let a = store.put(&p).unwrap();
    let b = store.put(&p).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.sha256, sha256_hex(&p.content));
    let (path, media) = store.find(&a.sha256).unwrap();
    assert_eq!(media, Media::Jpeg);
    assert_eq!(std::fs::read(&path).unwrap(), p.content);
    assert!(store.thumbnail(&a.sha256).is_some());
    assert!(store.verify(&a.sha256).unwrap());
    // Exactly the file and its thumbnail, no temporary files left.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // A file altered on disk no longer verifies.
    std::fs::write(&path, b"changed").unwrap();
    assert!(!store.verify(&a.sha256).unwrap());
    // Names that are not digests never reach the file system.
    for bad in ["../../etc/passwd", "ABC", &a.sha256.to_uppercase(), ""] {
        assert!(!is_digest(bad));
        assert!(store.find(bad).is_none());
        assert!(store.thumbnail(bad).is_none());
    }
    assert!(store.find(&"0".repeat(64)).is_none());
}
