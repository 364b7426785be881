//! Random container names, as moby's `pkg/namesgenerator` (v20.10): `adjective_surname`.

use rand::Rng;

/// Adjectives of moby's namesgenerator.
pub const LEFT: &[&str] = &[
    "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful", "blissful",
    "bold", "boring", "brave", "busy", "charming", "clever", "cool", "compassionate", "competent",
    "condescending", "confident", "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager",
    "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive",
    "flamboyant", "focused", "friendly", "frosty", "funny", "gallant", "gifted", "goofy", "gracious", "great",
    "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible", "inspiring", "interesting",
    "intelligent", "jolly", "jovial", "keen", "kind", "laughing", "loving", "lucid", "magical", "mystifying",
    "modest", "musing", "naughty", "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic",
    "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical", "recursing", "relaxed",
    "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange", "stupefied",
    "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant", "vigilant",
    "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
];

/// Surnames of notable scientists and hackers, from moby's namesgenerator.
pub const RIGHT: &[&str] = &[
    "albattani", "allen", "almeida", "antonelli", "agnesi", "archimedes", "ardinghelli", "aryabhata", "austin",
    "babbage", "banach", "banzai", "bardeen", "bartik", "bassi", "beaver", "bell", "benz", "bhabha", "bhaskara",
    "black", "blackburn", "blackwell", "bohr", "booth", "borg", "bose", "bouman", "boyd", "brahmagupta",
    "brattain", "brown", "buck", "burnell", "cannon", "carson", "cartwright", "carver", "cerf", "chandrasekhar",
    "chaplygin", "chatelet", "chatterjee", "chebyshev", "cohen", "chaum", "clarke", "colden", "cori", "cray",
    "curran", "curie", "darwin", "davinci", "dewdney", "dhawan", "diffie", "dijkstra", "dirac", "driscoll",
    "dubinsky", "easley", "edison", "einstein", "elbakyan", "elgamal", "elion", "ellis", "engelbart", "euclid",
    "euler", "faraday", "feistel", "fermat", "fermi", "feynman", "franklin", "gagarin", "galileo", "galois",
    "ganguly", "gates", "gauss", "germain", "goldberg", "goldstine", "goldwasser", "golick", "goodall", "gould",
    "greider", "grothendieck", "haibt", "hamilton", "haslett", "hawking", "hellman", "heisenberg", "hermann",
    "herschel", "hertz", "heyrovsky", "hodgkin", "hofstadter", "hoover", "hopper", "hugle", "hypatia",
    "ishizaka", "jackson", "jang", "jemison", "jennings", "jepsen", "johnson", "joliot", "jones", "kalam",
    "kapitsa", "kare", "keldysh", "keller", "kepler", "khayyam", "khorana", "kilby", "kirch", "knuth",
    "kowalevski", "lalande", "lamarr", "lamport", "leakey", "leavitt", "lederberg", "lehmann", "lewin",
    "lichterman", "liskov", "lovelace", "lumiere", "mahavira", "margulis", "matsumoto", "maxwell", "mayer",
    "mccarthy", "mcclintock", "mclaren", "mclean", "mcnulty", "mendel", "mendeleev", "meitner", "meninsky",
    "merkle", "mestorf", "mirzakhani", "montalcini", "moore", "morse", "murdock", "moser", "napier", "nash",
    "neumann", "newton", "nightingale", "nobel", "noether", "northcutt", "noyce", "panini", "pare", "pascal",
    "pasteur", "payne", "perlman", "pike", "poincare", "poitras", "proskuriakova", "ptolemy", "raman",
    "ramanujan", "ride", "ritchie", "rhodes", "robinson", "roentgen", "rosalind", "rubin", "saha", "sammet",
    "sanderson", "satoshi", "shamir", "shannon", "shaw", "shirley", "shockley", "shtern", "sinoussi", "snyder",
    "solomon", "spence", "stonebraker", "sutherland", "swanson", "swartz", "swirles", "taussig", "tereshkova",
    "tesla", "tharp", "thompson", "torvalds", "tu", "turing", "varahamihira", "vaughan", "visvesvaraya",
    "volhard", "villani", "wescoff", "wilbur", "wiles", "williams", "williamson", "wilson", "wing", "wozniak",
    "wright", "wu", "yalow", "yonath", "zhukovsky",
];

/// `GetRandomName(retry)`: for retry > 0 a random digit is appended (`jolly_yalow3`).
pub fn random_name(retry: u32) -> String {
    let mut rng = rand::thread_rng();
    loop {
        let name = format!("{}_{}", LEFT[rng.gen_range(0..LEFT.len())], RIGHT[rng.gen_range(0..RIGHT.len())]);
        // "Steve Wozniak is not boring"
        if name == "boring_wozniak" {
            continue;
        }
        return if retry > 0 { format!("{name}{}", rng.gen_range(0..10)) } else { name };
    }
}

/// Docker's rule for user-chosen names: `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$` (a leading `/` is allowed).
pub fn valid_name(name: &str) -> bool {
    let n = name.strip_prefix('/').unwrap_or(name);
    let b = n.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_have_the_docker_shape() {
        for i in 0..500 {
            let n = random_name(i % 2);
            let (l, r) = n.split_once('_').unwrap();
            assert!(LEFT.contains(&l));
            let r = if i % 2 == 1 { &r[..r.len() - 1] } else { r };
            assert!(RIGHT.contains(&r), "{n}");
            assert_ne!(n, "boring_wozniak");
        }
        assert_eq!(LEFT.len(), 108);
    }

    #[test]
    fn name_validation() {
        assert!(valid_name("web1"));
        assert!(valid_name("/a.b-c_d"));
        assert!(!valid_name("bad name"));
        assert!(!valid_name("_x"));
        assert!(!valid_name("x"));
    }
}
