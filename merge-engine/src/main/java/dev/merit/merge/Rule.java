package dev.merit.merge;

import java.util.regex.Pattern;

/**
 * A strategy and parameters for the tensors whose names match {@code pattern}: a glob where
 * {@code *} matches any run of characters (dots included) and {@code ?} one character, or a
 * Java regular expression when prefixed with {@code re:}. The recipe's own strategy is the rule
 * with pattern {@code "*"}.
 */
record Rule(String pattern, Pattern regex, Strategy strategy, MergeParameters params) {

    static Rule of(String pattern, Strategy strategy, MergeParameters params) {
        return new Rule(pattern, compile(pattern), strategy, params);
    }

    boolean matches(String tensor) {
        return regex.matcher(tensor).matches();
    }

    static Pattern compile(String pattern) {
        if (pattern.startsWith("re:")) {
            return Pattern.compile(pattern.substring(3));
        }
        StringBuilder re = new StringBuilder();
        StringBuilder literal = new StringBuilder();
        for (char c : pattern.toCharArray()) {
            if (c == '*' || c == '?') {
                if (!literal.isEmpty()) {
                    re.append(Pattern.quote(literal.toString()));
                    literal.setLength(0);
                }
                re.append(c == '*' ? ".*" : ".");
            } else {
                literal.append(c);
            }
        }
        if (!literal.isEmpty()) {
            re.append(Pattern.quote(literal.toString()));
        }
        return Pattern.compile(re.toString());
    }
}
