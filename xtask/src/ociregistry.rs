//! A throwaway OCI registry for the distribution tests: Debian's
//! `docker-registry` (the reference distribution registry), installed with
//! apt-get when missing, on a free loopback port with a temporary store
//! and a user behind HTTP basic auth, stopped and deleted when dropped.
//! And the outside tools the tests read Yoi's packages and signatures
//! with: ORAS's Python client (`oras` from PyPI) and Sigstore's own
//! verifier (`@sigstore/verify` from npm), installed once into
//! `target/tools`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::mcptools::{installed, npm_file, pip_install};

const BINARY: &str = "/usr/bin/docker-registry";
/// ORAS's Python client.
const ORAS_PY: (&str, &str) = ("oras", "0.2.43");
/// Sigstore's verifier for JavaScript.
const SIGSTORE_VERIFY: (&str, &str) = ("@sigstore/verify", "3.1.1");
const USER: &str = "yoi";

/// A running registry; stopped and deleted on drop.
pub(crate) struct Registry {
    child: Child,
    dir: PathBuf,
    address: String,
    password: String,
    oras: PathBuf,
    sigstore: PathBuf,
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// An htpasswd line (bcrypt, the only hash the registry reads), made with
/// Python's `crypt` over the system's libxcrypt.
fn htpasswd(password: &str) -> Result<String> {
    let python = std::env::var("YOI_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
            password,
        ])
        .output()
        .with_context(|| format!("running {python} to hash the test registry's password"))?;
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || !hash.starts_with("$2") {
        bail!(
            "{python} could not make a bcrypt hash for the test registry ({}): {}\n  fix: use a Python with the `crypt` module over libxcrypt (Debian's python3)",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(format!("{USER}:{hash}\n"))
}

impl Registry {
    /// Installs what is missing and starts the registry.
    pub(crate) fn start(tools: &Path) -> Result<Registry> {
        if !Path::new(BINARY).is_file() {
            eprintln!(
                "xtask: the OCI registry is missing; installing docker-registry with apt-get"
            );
            let why = crate::apt_install(&["docker-registry"]).err();
            if !Path::new(BINARY).is_file() {
                bail!(
                    "the distribution tests need Debian's docker-registry package, and installing it failed{}\n  \
                     fix: `apt-get install docker-registry` as root",
                    why.map_or_else(String::new, |e| format!(": {e:#}"))
                );
            }
        }
        let oras = installed(tools, "oras-py", ORAS_PY.1, |into| {
            pip_install(into, ORAS_PY, "ORAS's Python client")
        })?;
        let verify = npm_file(
            tools,
            "sigstore-verify",
            SIGSTORE_VERIFY,
            &["dist", "index.js"],
        )?;
        // `…/sigstore-verify-V/node_modules/@sigstore/verify/dist/index.js`
        let sigstore = verify
            .ancestors()
            .nth(4)
            .map(Path::to_path_buf)
            .context("the npm install's node_modules folder")?;

        let dir = std::env::temp_dir().join(format!("yoi-oci-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("store"))?;
        let password = format!("pw-{}-{}", std::process::id(), free_port()?);
        std::fs::write(dir.join("htpasswd"), htpasswd(&password)?)?;
        let port = free_port()?;
        let address = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {store}\n  delete:\n    enabled: true\n\
             http:\n  addr: {address}\n  secret: yoi-test\nauth:\n  htpasswd:\n    realm: yoi-test\n    path: {htpasswd}\n",
            store = dir.join("store").display(),
            htpasswd = dir.join("htpasswd").display(),
        );
        std::fs::write(dir.join("config.yml"), config)?;
        let log = std::fs::File::create(dir.join("registry.log"))?;
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {BINARY}"))?;
        let registry = Registry {
            child,
            dir,
            address,
            password,
            oras,
            sigstore,
        };
        registry.wait()?;
        Ok(registry)
    }

    /// Waits until the registry answers `/v2/` (401: it wants the user).
    fn wait(&self) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(mut stream) = std::net::TcpStream::connect(&self.address) {
                use std::io::{Read, Write};
                let request = format!("GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.address);
                let mut answer = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.")
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
        bail!(
            "the test OCI registry did not answer on {} within 20 s:\n{log}",
            self.address
        )
    }

    /// The tests' environment: the registry, its user, and the outside
    /// tools.
    pub(crate) fn env(&self) -> [(&'static str, String); 6] {
        [
            ("YOI_TEST_OCI", self.address.clone()),
            ("YOI_TEST_OCI_USER", USER.into()),
            ("YOI_TEST_OCI_PASSWORD", self.password.clone()),
            ("YOI_REQUIRE_OCI", "1".into()),
            ("YOI_ORAS_PYTHONPATH", self.oras.display().to_string()),
            (
                "YOI_SIGSTORE_NODE_PATH",
                self.sigstore.display().to_string(),
            ),
        ]
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("xtask: removing {}: {e}", self.dir.display());
        }
    }
}
