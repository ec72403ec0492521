//! Evidence files (photos, scanned signed forms, appraisal reports) attached to events.
//!
//! What arrives from a phone or a desktop is never stored as sent:
//! - the type is decided by the content's magic bytes, not by the name or the declared type;
//! - size and image dimensions are limited before anything is decoded (a 20,000 × 20,000 PNG of a
//!   few kilobytes is refused from its header);
//! - images are decoded, turned upright by their EXIF orientation, scaled down to at most
//!   [`Policy::max_side`] and re-encoded (JPEG and WebP as JPEG, PNG as PNG), so that EXIF, GPS and
//!   any trailing bytes are gone; a thumbnail is made beside them;
//! - PDFs are kept as sent after a structural check (header, end marker) and are only ever served
//!   as downloads;
//! - files are stored under the SHA-256 of the stored bytes (`root/ab/abcdef….jpg`), written to a
//!   temporary name and renamed, so a file is either whole or absent and the same photo uploaded
//!   twice is stored once.
//!
//! Which account may see a file is decided by the web layer through the store's scoped house
//! history: a file is served only under a house whose events reference it.

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use sha2::{Digest, Sha256};
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

/// The limits uploads are held to.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Largest file accepted, in bytes.
    pub max_bytes: usize,
    /// Largest width or height of an uploaded image, in pixels.
    pub max_dimension: u32,
    /// Largest number of pixels of an uploaded image.
    pub max_pixels: u64,
    /// Stored images are scaled down to at most this width and height.
    pub max_side: u32,
    /// Thumbnails fit in a square of this side.
    pub thumb_side: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_bytes: 15 * 1024 * 1024,
            max_dimension: 12_000,
            max_pixels: 64_000_000,
            max_side: 4096,
            thumb_side: 320,
        }
    }
}

/// The kinds of file that are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Jpeg,
    Png,
    Pdf,
    /// An imported ledger, kept as the record its houses' imported steps rest on.
    Xlsx,
    Csv,
}

impl Media {
    pub fn extension(self) -> &'static str {
        match self {
            Media::Jpeg => "jpg",
            Media::Png => "png",
            Media::Pdf => "pdf",
            Media::Xlsx => "xlsx",
            Media::Csv => "csv",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Media::Jpeg => "image/jpeg",
            Media::Png => "image/png",
            Media::Pdf => "application/pdf",
            Media::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Media::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn is_image(self) -> bool {
        matches!(self, Media::Jpeg | Media::Png)
    }

    const ALL: [Media; 5] = [Media::Jpeg, Media::Png, Media::Pdf, Media::Xlsx, Media::Csv];
}

/// Why a file was not accepted, in the words shown to the user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    #[error("文件为空")]
    Empty,
    #[error("文件过大（{size_mb:.1} MB），单个文件不能超过 {max_mb} MB")]
    TooLarge { size_mb: f64, max_mb: usize },
    #[error(
        "暂不支持 HEIC/HEIF 格式的照片。请在手机“设置 → 相机 → 格式”中选择“兼容性最佳”，或先转换为 JPG 后上传"
    )]
    Heic,
    #[error(
        "不支持的文件类型：只接受 JPG、PNG、WebP 照片和 PDF 文件（按文件内容识别，与文件名无关）"
    )]
    Unsupported,
    #[error("图片尺寸过大（{width} × {height} 像素），宽、高均不能超过 {max} 像素")]
    Dimensions { width: u32, height: u32, max: u32 },
    #[error("文件已损坏或格式不正确，无法读取：{0}")]
    Corrupt(String),
}

/// A file checked and ready to store.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub media: Media,
    pub content: Vec<u8>,
    pub thumbnail: Option<Vec<u8>>,
    /// Pixel size of the stored image (0 × 0 for PDFs).
    pub width: u32,
    pub height: u32,
}

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sha256: String,
    pub media: Media,
    pub bytes: u64,
}

/// What the content says it is.
fn sniff(b: &[u8]) -> Option<Sniffed> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Sniffed::Jpeg)
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Sniffed::Png)
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some(Sniffed::Webp)
    } else if b.starts_with(b"%PDF-") {
        Some(Sniffed::Pdf)
    } else if b.len() >= 12
        && &b[4..8] == b"ftyp"
        && matches!(
            &b[8..12],
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" | b"avif"
        )
    {
        Some(Sniffed::Heic)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sniffed {
    Jpeg,
    Png,
    Webp,
    Pdf,
    Heic,
}

/// Checks a file and turns it into what is stored. CPU-heavy for images: call it off the async
/// threads.
pub fn prepare(bytes: &[u8], policy: &Policy) -> Result<Prepared, Refused> {
    if bytes.is_empty() {
        return Err(Refused::Empty);
    }
    if bytes.len() > policy.max_bytes {
        return Err(Refused::TooLarge {
            size_mb: bytes.len() as f64 / 1024.0 / 1024.0,
            max_mb: policy.max_bytes / 1024 / 1024,
        });
    }
    let format = match sniff(bytes).ok_or(Refused::Unsupported)? {
        Sniffed::Heic => return Err(Refused::Heic),
        Sniffed::Pdf => return prepare_pdf(bytes),
        Sniffed::Jpeg => image::ImageFormat::Jpeg,
        Sniffed::Png => image::ImageFormat::Png,
        Sniffed::Webp => image::ImageFormat::WebP,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(policy.max_dimension);
    limits.max_image_height = Some(policy.max_dimension);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(refusal(policy))?;
    let (w, h) = decoder.dimensions();
    if w > policy.max_dimension
        || h > policy.max_dimension
        || u64::from(w) * u64::from(h) > policy.max_pixels
    {
        return Err(Refused::Dimensions {
            width: w,
            height: h,
            max: policy.max_dimension,
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(refusal(policy))?;
    img.apply_orientation(orientation);
    if img.width() > policy.max_side || img.height() > policy.max_side {
        img = img.resize(
            policy.max_side,
            policy.max_side,
            image::imageops::FilterType::Triangle,
        );
    }
    let (media, content) = if format == image::ImageFormat::Png {
        (Media::Png, encode_png(&img)?)
    } else {
        (Media::Jpeg, encode_jpeg(&img, 85)?)
    };
    let thumb = img.thumbnail(policy.thumb_side, policy.thumb_side);
    Ok(Prepared {
        media,
        width: img.width(),
        height: img.height(),
        content,
        thumbnail: Some(encode_jpeg(&thumb, 75)?),
    })
}

fn refusal(policy: &Policy) -> impl Fn(image::ImageError) -> Refused + '_ {
    move |e| match e {
        image::ImageError::Limits(_) => Refused::Dimensions {
            width: 0,
            height: 0,
            max: policy.max_dimension,
        },
        other => Refused::Corrupt(other.to_string()),
    }
}

fn encode_jpeg(img: &DynamicImage, quality: u8) -> Result<Vec<u8>, Refused> {
    let rgb = img.to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&rgb)
        .map_err(|e| Refused::Corrupt(e.to_string()))?;
    Ok(out)
}

fn encode_png(img: &DynamicImage) -> Result<Vec<u8>, Refused> {
    let mut out = Vec::new();
    let img = if img.color().has_alpha() {
        DynamicImage::ImageRgba8(img.to_rgba8())
    } else {
        DynamicImage::ImageRgb8(img.to_rgb8())
    };
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| Refused::Corrupt(e.to_string()))?;
    Ok(out)
}

fn prepare_pdf(bytes: &[u8]) -> Result<Prepared, Refused> {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    if !tail.windows(5).any(|w| w == b"%%EOF") {
        return Err(Refused::Corrupt("PDF 文件不完整（缺少结束标记）".into()));
    }
    Ok(Prepared {
        media: Media::Pdf,
        content: bytes.to_vec(),
        thumbnail: None,
        width: 0,
        height: 0,
    })
}

/// SHA-256 of bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether a string is a lowercase SHA-256 hex digest (so it can name a file safely).
pub fn is_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The content-addressed store on disk.
#[derive(Debug, Clone)]
pub struct EvidenceStore {
    root: PathBuf,
}

impl EvidenceStore {
    /// Opens (creating) the directory.
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<EvidenceStore> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(EvidenceStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, sha: &str, suffix: &str) -> PathBuf {
        self.root.join(&sha[..2]).join(format!("{sha}.{suffix}"))
    }

    /// Stores a prepared file (and its thumbnail). Storing the same content again is a no-op.
    pub fn put(&self, p: &Prepared) -> std::io::Result<Stored> {
        let sha = sha256_hex(&p.content);
        std::fs::create_dir_all(self.root.join(&sha[..2]))?;
        if let Some(t) = &p.thumbnail {
            write_once(&self.path(&sha, "thumb.jpg"), t)?;
        }
        // The file itself last: once it exists, its thumbnail does too.
        write_once(&self.path(&sha, p.media.extension()), &p.content)?;
        Ok(Stored {
            sha256: sha,
            media: p.media,
            bytes: p.content.len() as u64,
        })
    }

    /// Stores a ledger file as it is (no re-encoding: it is the record itself), hashing it
    /// while copying, in constant memory. Storing the same content again is a no-op.
    pub fn put_ledger(&self, from: &Path, media: Media) -> std::io::Result<Stored> {
        use std::io::Read;
        assert!(matches!(media, Media::Xlsx | Media::Csv), "a ledger file");
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(std::io::Error::other)?;
        let tmp = self
            .root
            .join(format!("incoming-{}.tmp", hex::encode(nonce)));
        let result = (|| {
            let mut input = std::fs::File::open(from)?;
            let mut out = std::fs::File::create(&tmp)?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            let mut bytes = 0u64;
            loop {
                let n = input.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n])?;
                bytes += n as u64;
            }
            out.sync_all()?;
            let sha = hex::encode(hasher.finalize());
            std::fs::create_dir_all(self.root.join(&sha[..2]))?;
            let path = self.path(&sha, media.extension());
            if path.is_file() {
                std::fs::remove_file(&tmp)?;
            } else {
                std::fs::rename(&tmp, &path)?;
            }
            Ok(Stored {
                sha256: sha,
                media,
                bytes,
            })
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Where a stored file is and what it is, if it is stored.
    pub fn find(&self, sha: &str) -> Option<(PathBuf, Media)> {
        if !is_digest(sha) {
            return None;
        }
        Media::ALL
            .into_iter()
            .map(|m| (self.path(sha, m.extension()), m))
            .find(|(p, _)| p.is_file())
    }

    /// The thumbnail of a stored image.
    pub fn thumbnail(&self, sha: &str) -> Option<PathBuf> {
        if !is_digest(sha) {
            return None;
        }
        Some(self.path(sha, "thumb.jpg")).filter(|p| p.is_file())
    }

    /// Checks a stored file against its name: the content's digest must be the name.
    pub fn verify(&self, sha: &str) -> std::io::Result<bool> {
        match self.find(sha) {
            Some((p, _)) => Ok(sha256_hex(&std::fs::read(p)?) == sha),
            None => Ok(false),
        }
    }
}

/// Writes to a temporary name in the same directory, syncs, then renames into place.
fn write_once(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.is_file() {
        return Ok(());
    }
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(std::io::Error::other)?;
    let tmp = path.with_extension(format!("tmp-{}", hex::encode(nonce)));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
