//! Proves that src/sys.rs lays every struct out the way a C compiler lays
//! out include/awake.h: a C program generated from `sys::LAYOUT` prints
//! each `sizeof`/`_Alignof`/`offsetof` and the test compares them one by
//! one.  Compiled with $CC (default cc), -std=c11 -Wall -Wextra -Werror
//! -pedantic, like every C file of the project.

mod common;

use awake_example_rust::sys::LAYOUT;
use std::process::Command;

#[test]
fn rust_layout_equals_the_c_compilers() {
    let dir = common::temp_dir("layout");
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"awake.h\"\nint main(void) {\n",
    );
    for (expr, _) in LAYOUT {
        c.push_str(&format!(
            "    printf(\"%s=%zu\\n\", \"{expr}\", (size_t)({expr}));\n"
        ));
    }
    c.push_str("    return 0;\n}\n");
    let src = dir.join("layout.c");
    std::fs::write(&src, c).unwrap();
    let exe = dir.join("layout");
    let include = common::repo().join("include");
    common::run_ok(
        Command::new(common::cc())
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
            .arg(&include)
            .arg(&src)
            .arg("-o")
            .arg(&exe),
        "compiling the layout probe",
    );
    let out = common::run_ok(&mut Command::new(&exe), "running the layout probe");
    let mut checked = 0;
    for ((expr, rust), line) in LAYOUT.iter().zip(out.lines()) {
        let (name, c) = line.split_once('=').expect("name=value");
        assert_eq!(name, *expr);
        let c: usize = c.parse().unwrap();
        assert_eq!(*rust, c, "{expr}: Rust says {rust}, C says {c}");
        checked += 1;
    }
    assert_eq!(checked, LAYOUT.len(), "the probe printed every entry");
    let _ = std::fs::remove_dir_all(&dir);
}
