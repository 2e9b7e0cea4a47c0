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
    /// Most "loop-locals" in one function: the depth of its deepest loop
    /// nest times its locals (parameters included). The compiler keeps
    /// every local live around every enclosing loop, and this product is
    /// what makes a small function explode (docs/diagnostics.md, E0411).
    pub loop_locals: u64,
}

impl Default for CodeLimits {
    fn default() -> Self {
        CodeLimits {
            function_bytes: 2 * 1024 * 1024,
            nesting: 4096,
            locals: 50_000,
            functions: 100_000,
            types: 1_000_000,
            loop_locals: DEFAULT_LOOP_LOCALS,
        }
    }
}

/// The default [`CodeLimits::loop_locals`].
pub const DEFAULT_LOOP_LOCALS: u64 = 20_000;

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
    /// Most loop-locals in one function ([`CodeLimits::loop_locals`]).
    pub loop_locals: u64,
    /// Function bodies in all modules.
    pub bodies: u64,
}

impl CodeStats {
    /// Measures `bytes` (a component or a core module), stopping at the
    /// first breach of `limits` with the reason. Decoding errors are
    /// reported as such; validity is checked elsewhere.
    pub fn measure(bytes: &[u8], limits: &CodeLimits) -> Result<CodeStats, String> {
        let mut stats = CodeStats::default();
        // Functions and types of the core module being read; the parameter
        // count of each type, and the type of each defined function, in
        // order, so a body's parameters are known.
        let mut functions = 0u64;
        let mut types = 0u64;
        let mut params_of_type: Vec<u64> = Vec::new();
        let mut defined: Vec<u32> = Vec::new();
        let mut body_index = 0usize;
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload.map_err(|e| format!("cannot be decoded: {e}"))?;
            match payload {
                Payload::Version { .. } => {
                    functions = 0;
                    types = 0;
                    params_of_type.clear();
                    defined.clear();
                    body_index = 0;
                }
                Payload::TypeSection(r) => {
                    types += u64::from(r.count());
                    for group in r {
                        let group = group.map_err(|e| e.to_string())?;
                        for sub in group.types() {
                            params_of_type.push(match &sub.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => f.params().len() as u64,
                                _ => 0,
                            });
                        }
                    }
                }
                Payload::ImportSection(r) => {
                    for import in r.into_imports() {
                        let import = import.map_err(|e| e.to_string())?;
                        if matches!(import.ty, wasmparser::TypeRef::Func(_)) {
                            functions += 1;
                        }
                    }
                }
                Payload::FunctionSection(r) => {
                    functions += u64::from(r.count());
                    for ty in r {
                        defined.push(ty.map_err(|e| e.to_string())?);
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    stats.bodies += 1;
                    // Every module of a component is compiled: the limit
                    // on functions holds for all of them together too.
                    let bodies = stats.bodies;
                    if bodies > limits.functions {
                        return Err(format!(
                            "has more than {0} function bodies in all its modules; the limit is {0}",
                            limits.functions
                        ));
                    }
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
                    let params = defined
                        .get(body_index)
                        .and_then(|t| params_of_type.get(*t as usize))
                        .copied()
                        .unwrap_or(0);
                    body_index += 1;
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
                    // For each open block, whether it is a loop; and how
                    // many loops are open.
                    let mut open: Vec<bool> = Vec::new();
                    let mut loops = 0u64;
                    let live = locals + params;
                    let mut ops = body.get_operators_reader().map_err(|e| e.to_string())?;
                    while !ops.eof() {
                        let op = ops.read().map_err(|e| e.to_string())?;
                        match op {
                            Operator::Loop { .. } => {
                                loops += 1;
                                let product = loops.saturating_mul(live);
                                note(&mut stats.loop_locals, product, limits.loop_locals, || {
                                    format!(
                                        "has a function with {live} locals inside loops nested \
                                         {loops} deep ({product} loop-locals); the limit is {}",
                                        limits.loop_locals
                                    )
                                })?;
                            }
                            Operator::End if open.pop() == Some(true) => loops -= 1,
                            _ => {}
                        }
                        match op {
                            Operator::Block { .. }
                            | Operator::Loop { .. }
                            | Operator::If { .. }
                            | Operator::TryTable { .. }
                            | Operator::Try { .. } => {
                                open.push(matches!(op, Operator::Loop { .. }));
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

    /// `depth` loops nested around code that touches `locals` locals.
    fn loops(depth: usize, locals: usize, params: usize) -> Vec<u8> {
        let wat = format!(
            "(module (func (param {}) (local {}) {} {}))",
            "i32 ".repeat(params),
            "i32 ".repeat(locals),
            "(loop ".repeat(depth),
            ")".repeat(depth)
        );
        wat::parse_str(wat).unwrap()
    }

    #[test]
    fn locals_live_across_nested_loops_are_bounded() {
        let limits = CodeLimits::default();
        let s = CodeStats::measure(&loops(100, 190, 10), &limits).unwrap();
        assert_eq!(s.loop_locals, 20_000);
        let e = CodeStats::measure(&loops(101, 190, 10), &limits).unwrap_err();
        assert!(e.contains("200 locals inside loops nested 101 deep"), "{e}");
        // Parameters count as locals; blocks that are not loops do not.
        let e = CodeStats::measure(&loops(200, 0, 101), &limits).unwrap_err();
        assert!(e.contains("101 locals"), "{e}");
        let blocks = wat::parse_str(format!(
            "(module (func (local {}) {} {}))",
            "i32 ".repeat(1000),
            "(block ".repeat(1000),
            ")".repeat(1000)
        ))
        .unwrap();
        assert_eq!(CodeStats::measure(&blocks, &limits).unwrap().loop_locals, 0);
        // Sibling loops are not nested.
        let siblings = wat::parse_str(format!(
            "(module (func (local {}) {}))",
            "i32 ".repeat(1000),
            "(loop) ".repeat(1000)
        ))
        .unwrap();
        assert_eq!(
            CodeStats::measure(&siblings, &limits).unwrap().loop_locals,
            1000
        );
    }

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
    fn functions_are_counted_per_module_and_in_all() {
        let limits = CodeLimits {
            functions: 2,
            ..CodeLimits::default()
        };
        let two =
            wat::parse_str("(component (core module (func) (func)) (core module (func) (func)))")
                .unwrap();
        // Per module, 2 each; all modules are compiled, so 4 in all count
        // against the limit too.
        let e = CodeStats::measure(&two, &limits).unwrap_err();
        assert!(e.contains("function bodies in all its modules"), "{e}");
        let four = CodeLimits {
            functions: 4,
            ..CodeLimits::default()
        };
        let s = CodeStats::measure(&two, &four).unwrap();
        assert_eq!((s.functions, s.bodies), (2, 4));
        let three = wat::parse_str("(component (core module (func) (func) (func)))").unwrap();
        assert!(CodeStats::measure(&three, &limits).is_err());
    }
}
