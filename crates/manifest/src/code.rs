//! Structural limits on a component's code, checked by one cheap pass over
//! its bytes before anything compiles it.
//!
//! Compiling is the expensive step a package forces on every host that
//! loads it, and its cost grows with the size of single functions and the
//! depth of their block nesting (docs/diagnostics.md, E0411). The pass here
//! reads each function body once, counting and never compiling, so its own
//! cost is linear in the artifact's size, which is capped at 64 MiB.

use wasmparser::{Operator, Parser, Payload};

/// The most a component's code may ask of a compiler. The defaults leave
/// ample room for real components, including interpreters for other
/// languages packed as components (docs/diagnostics.md lists what was
/// measured), while keeping the compile time of any accepted component to
/// seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLimits {
    /// Largest body of one function, in bytes.
    pub function_bytes: u64,
    /// Deepest nesting of blocks, loops and ifs in one function.
    pub nesting: u32,
    /// Most local variables in one function.
    pub locals: u64,
    /// Most functions (imported and defined) in one core module.
    pub functions: u64,
    /// Most types in one core module.
    pub types: u64,
}

impl Default for CodeLimits {
    fn default() -> Self {
        CodeLimits {
            function_bytes: 2 * 1024 * 1024,
            nesting: 4096,
            locals: 50_000,
            functions: 1_000_000,
            types: 1_000_000,
        }
    }
}

/// What the pass measured: the largest of each kind found in any core
/// module of the component.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodeStats {
    /// Largest function body, in bytes.
    pub function_bytes: u64,
    /// Deepest block nesting.
    pub nesting: u32,
    /// Most locals in one function.
    pub locals: u64,
    /// Most functions in one module.
    pub functions: u64,
    /// Most types in one module.
    pub types: u64,
    /// Function bodies in all modules.
    pub bodies: u64,
}

impl CodeStats {
    /// Measures `bytes` (a component or a core module), stopping at the
    /// first breach of `limits` with the reason. Decoding errors are
    /// reported as such; validity is checked elsewhere.
    pub fn measure(bytes: &[u8], limits: &CodeLimits) -> Result<CodeStats, String> {
        let mut stats = CodeStats::default();
        // Functions and types of the core module being read.
        let mut functions = 0u64;
        let mut types = 0u64;
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload.map_err(|e| format!("cannot be decoded: {e}"))?;
            match payload {
                Payload::Version { .. } => {
                    functions = 0;
                    types = 0;
                }
                Payload::TypeSection(r) => types += u64::from(r.count()),
                Payload::ImportSection(r) => {
                    for import in r.into_imports() {
                        let import = import.map_err(|e| e.to_string())?;
                        if matches!(import.ty, wasmparser::TypeRef::Func(_)) {
                            functions += 1;
                        }
                    }
                }
                Payload::FunctionSection(r) => functions += u64::from(r.count()),
                Payload::CodeSectionEntry(body) => {
                    stats.bodies += 1;
                    let size = body.range().len() as u64;
                    note(
                        &mut stats.function_bytes,
                        size,
                        limits.function_bytes,
                        || {
                            format!(
                                "has a function of {size} bytes; the limit is {} bytes",
                                limits.function_bytes
                            )
                        },
                    )?;
                    let mut locals = 0u64;
                    for local in body.get_locals_reader().map_err(|e| e.to_string())? {
                        let (n, _) = local.map_err(|e| e.to_string())?;
                        locals += u64::from(n);
                    }
                    note(&mut stats.locals, locals, limits.locals, || {
                        format!(
                            "has a function with {locals} locals; the limit is {}",
                            limits.locals
                        )
                    })?;
                    let mut depth = 0u32;
                    let mut ops = body.get_operators_reader().map_err(|e| e.to_string())?;
                    while !ops.eof() {
                        match ops.read().map_err(|e| e.to_string())? {
                            Operator::Block { .. }
                            | Operator::Loop { .. }
                            | Operator::If { .. }
                            | Operator::TryTable { .. }
                            | Operator::Try { .. } => {
                                depth += 1;
                                note(&mut stats.nesting, depth, limits.nesting, || {
                                    format!(
                                        "nests blocks {depth} deep in one function; the limit is {}",
                                        limits.nesting
                                    )
                                })?;
                            }
                            Operator::End => depth = depth.saturating_sub(1),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
            note(&mut stats.functions, functions, limits.functions, || {
                format!(
                    "has {functions} functions in one module; the limit is {}",
                    limits.functions
                )
            })?;
            note(&mut stats.types, types, limits.types, || {
                format!(
                    "has {types} types in one module; the limit is {}",
                    limits.types
                )
            })?;
        }
        Ok(stats)
    }
}

/// Keeps `value` if it is the largest seen, and refuses it past `limit`.
fn note<T: Ord + Copy>(
    largest: &mut T,
    value: T,
    limit: T,
    why: impl FnOnce() -> String,
) -> Result<(), String> {
    *largest = (*largest).max(value);
    if value > limit { Err(why()) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> Vec<u8> {
        let wat = format!(
            "(module (func {} {}))",
            "(block ".repeat(depth),
            ")".repeat(depth)
        );
        wat::parse_str(wat).unwrap()
    }

    #[test]
    fn nesting_is_measured_and_bounded() {
        let limits = CodeLimits::default();
        let stats = CodeStats::measure(&nested(10), &limits).unwrap();
        assert_eq!(stats.nesting, 10);
        assert_eq!(stats.functions, 1);
        let err = CodeStats::measure(&nested(5000), &limits).unwrap_err();
        assert!(err.contains("nests blocks 4097 deep"), "{err}");
    }

    #[test]
    fn function_size_and_locals_are_bounded() {
        let limits = CodeLimits {
            function_bytes: 100,
            locals: 10,
            ..CodeLimits::default()
        };
        let big = wat::parse_str(format!(
            "(module (func {}))",
            "(drop (i32.const 1)) ".repeat(50)
        ))
        .unwrap();
        let err = CodeStats::measure(&big, &limits).unwrap_err();
        assert!(err.contains("limit is 100 bytes"), "{err}");
        let locals =
            wat::parse_str("(module (func (local i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))")
                .unwrap();
        let err = CodeStats::measure(&locals, &limits).unwrap_err();
        assert!(err.contains("11 locals"), "{err}");
    }

    #[test]
    fn counts_are_per_module() {
        let limits = CodeLimits {
            functions: 2,
            ..CodeLimits::default()
        };
        let two =
            wat::parse_str("(component (core module (func) (func)) (core module (func) (func)))")
                .unwrap();
        assert_eq!(CodeStats::measure(&two, &limits).unwrap().functions, 2);
        let three = wat::parse_str("(component (core module (func) (func) (func)))").unwrap();
        assert!(CodeStats::measure(&three, &limits).is_err());
    }
}
