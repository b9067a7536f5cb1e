//! Debug aid: the cost of one decoded `ops` run of random bytes.
fn main() {
    let mut x: u64 = 88172645463325252;
    let inputs: Vec<Vec<u8>> = (0..500)
        .map(|_| {
            (0..300)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        })
        .collect();
    let t = std::time::Instant::now();
    for i in &inputs {
        kobj_model::targets::ops(i).unwrap();
    }
    println!("ops run: {:?}/iter", t.elapsed() / 500);
}
