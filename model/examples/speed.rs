//! Debug aid: prints the decoded `names` scenario of each file given.
fn main() {
    for f in std::env::args().skip(1) {
        let data = std::fs::read(&f).unwrap();
        let s = kobj_model::targets::NamesScenario::decode(&data);
        println!("{f}: {:?} {} ops", s.setup, s.ops.len());
        for op in s.ops.iter().take(6) {
            println!("   {op:?}");
        }
    }
}
