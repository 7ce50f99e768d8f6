//! How easy a German text is to read: Amstad's adaptation of the Flesch
//! reading ease, `180 − ASL − 58.5 × ASW` (average sentence length in
//! words, average syllables per word). 0–30 is very hard (academic), 60–70
//! plain, above 80 easy. The "Leichte Sprache" guidance aims high; legal
//! German often scores below 30.

/// The score of a plain text (Markdown already reduced to text), or none
/// when it has no words.
pub fn amstad_flesch(text: &str) -> Option<f64> {
    let mut words = 0usize;
    let mut syllables = 0usize;
    let mut sentences = 0usize;
    // A line is a sentence too: list items and headings often end without a full stop.
    for line in text.lines() {
        let mut in_sentence = false;
        for token in line.split_whitespace() {
            let word: String = token.chars().filter(|c| c.is_alphanumeric()).collect();
            if word.chars().any(char::is_alphabetic) {
                words += 1;
                syllables += syllables_of(&word);
                in_sentence = true;
            }
            if in_sentence && token.ends_with(['.', '!', '?', ':', ';']) && !is_abbreviation(token) {
                sentences += 1;
                in_sentence = false;
            }
        }
        if in_sentence {
            sentences += 1;
        }
    }
    if words == 0 {
        return None;
    }
    let words_per_sentence = words as f64 / sentences.max(1) as f64;
    let syllables_per_word = syllables as f64 / words as f64;
    Some(180.0 - words_per_sentence - 58.5 * syllables_per_word)
}

/// German syllables, counted as groups of vowels: "Personalausweis" has
/// Per-so-nal-aus-weis, five. Diphthongs (ei, au, eu, äu, ie) are one
/// group already.
fn syllables_of(word: &str) -> usize {
    let mut count = 0;
    let mut previous_was_vowel = false;
    for c in word.chars().flat_map(char::to_lowercase) {
        let vowel = matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'ä' | 'ö' | 'ü');
        if vowel && !previous_was_vowel {
            count += 1;
        }
        previous_was_vowel = vowel;
    }
    count.max(1)
}

/// "z.B.", "Nr.", "ggf.": a full stop that ends no sentence.
fn is_abbreviation(token: &str) -> bool {
    const KNOWN: [&str; 12] = ["z.B.", "z. B.", "bzw.", "ggf.", "usw.", "Nr.", "ca.", "d.h.", "u.a.", "inkl.", "evtl.", "Abs."];
    KNOWN.contains(&token) || token.trim_end_matches('.').chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_german_syllables() {
        assert_eq!(syllables_of("Personalausweis"), 5);
        assert_eq!(syllables_of("Bürgerbüro"), 4);
        assert_eq!(syllables_of("Hund"), 1);
        assert_eq!(syllables_of("Einbürgerung"), 4);
    }

    #[test]
    fn short_plain_sentences_read_easier_than_official_german() {
        let plain = amstad_flesch("Sie brauchen einen Ausweis. Gehen Sie ins Bürgerbüro. Bringen Sie ein Foto mit.").unwrap();
        let official = amstad_flesch(
            "Die Beantragung eines Personalausweises erfordert das persönliche Erscheinen der antragstellenden Person \
             bei der zuständigen Personalausweisbehörde unter Vorlage eines biometrischen Lichtbildes.",
        )
        .unwrap();
        assert!(plain > 60.0, "{plain}");
        assert!(official < 30.0, "{official}");
        assert!(amstad_flesch("  ").is_none());
        assert!(amstad_flesch("z.B. 12. Mai").is_some());
    }
}
