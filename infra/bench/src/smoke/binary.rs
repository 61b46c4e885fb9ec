//! The binary under test: where it lies, what it is built for, how large it is.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// A Lambda architecture (template.yaml's `Architecture` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "arm64")]
    Arm64,
}

impl Arch {
    pub fn label(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }

    /// The ELF `e_machine` of a binary built for it.
    fn elf_machine(self) -> u16 {
        match self {
            Self::X86_64 => 62,
            Self::Arm64 => 183,
        }
    }

    pub(super) fn is_this_machine(self) -> bool {
        match self {
            Self::X86_64 => std::env::consts::ARCH == "x86_64",
            Self::Arm64 => std::env::consts::ARCH == "aarch64",
        }
    }
}

/// The binary for `name` in `dir`, and its deployment zip when one lies beside it.
pub(super) fn locate(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, Option<PathBuf>)> {
    let unpacked = dir.join(name).join("bootstrap");
    if unpacked.is_file() {
        let zip = dir.join(name).join("bootstrap.zip");
        return Ok((unpacked, zip.is_file().then_some(zip)));
    }
    let built = dir.join(name);
    if built.is_file() {
        return Ok((built, None));
    }
    bail!("neither {} nor {} exists: build the functions first", unpacked.display(), built.display())
}

/// Refuses a binary built for another architecture than the one being tested,
/// so a mix-up cannot pass as an arm64 smoke.
pub(super) fn check_architecture(binary: &Path, arch: Arch) -> anyhow::Result<()> {
    use std::io::Read;
    let mut header = [0u8; 20];
    std::fs::File::open(binary)
        .and_then(|mut f| f.read_exact(&mut header))
        .with_context(|| format!("reading the ELF header of {}", binary.display()))?;
    if &header[..4] != b"\x7fELF" {
        bail!("{} is not an ELF binary", binary.display());
    }
    // e_machine, little-endian (both Lambda architectures are).
    let machine = u16::from_le_bytes([header[18], header[19]]);
    if machine != arch.elf_machine() {
        bail!("{} is not an {} binary (ELF machine {machine})", binary.display(), arch.label());
    }
    Ok(())
}

pub(super) fn sizes(binary: &Path, zip: Option<&Path>) -> String {
    let mib = |path: &Path| std::fs::metadata(path).map(|m| m.len() as f64 / (1024.0 * 1024.0)).unwrap_or(0.0);
    match zip {
        Some(zip) => format!("bootstrap {:.1} MiB, zip {:.1} MiB", mib(binary), mib(zip)),
        None => format!("bootstrap {:.1} MiB", mib(binary)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_the_architecture_of_a_binary() {
        let this = std::env::current_exe().unwrap();
        let (native, other) = match std::env::consts::ARCH {
            "aarch64" => (Arch::Arm64, Arch::X86_64),
            _ => (Arch::X86_64, Arch::Arm64),
        };
        check_architecture(&this, native).unwrap();
        assert!(check_architecture(&this, other).is_err());
    }
}
