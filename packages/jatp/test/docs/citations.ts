/**
 * Finds the section citations in the project's source ("spec §5.3", "guide §4.2", "spec A17",
 * "(spec §2.2, A4)", "spec §4.1–4.3", a bare "§3.2" in a table) and checks each against the headings
 * of the notes in docs/: "spec" means docs/paper-notes.md, "guide" docs/engine-notes.md.
 *
 * Matching is forgiving of form and strict on numbers: "§5.3." and "§5.3" are the same citation and
 * "§3.3(a)" cites §3.3, but "§5.3" never resolves to a heading "5.30" or "5", and "A22" needs a
 * heading "A22". Which document a bare "§N" (or "A<n>") means comes from the last "spec" / "guide" /
 * "paper" word before it on its line; with none, from the file's package (the engine's files cite
 * the guide, everything else the spec). "paper §N" cites the paper's own sections and is not checked.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type NoteDoc = 'spec' | 'guide';

export interface Citation {
  readonly file: string;
  readonly line: number;
  readonly doc: NoteDoc;
  /** The section id as the heading must carry it, e.g. '5.3', '5c', '1.6.3', '7a', 'A17'. */
  readonly id: string;
  /** The text that was read as this citation, for the error message. */
  readonly text: string;
}

/** Section number: digits, dotted parts, an optional letter suffix ("5c", "7a", "1.6.3"). */
const SECTION = String.raw`\d+(?:\.\d+)*[a-z]?`;
/**
 * "§5.3" (optionally with a sub-item "(a)" and a range tail "–5.5"), "§A17", or a bare ambiguity id
 * "A17" (not part of a longer word such as "A100" or "PA1").
 */
const REF = new RegExp(
  String.raw`§\s?(?:A(?<signedAmbiguity>\d{1,2})(?!\w)|(?<section>${SECTION})(?:\([a-z]\))?(?:\s?[–-]\s?(?<rangeEnd>${SECTION}))?)` +
    String.raw`|(?<![\w.§-])A(?<ambiguity>\d{1,2})(?!\w)`,
  'g',
);
/** Words that say which document the following bare § numbers belong to. */
const DOC_WORD = /\b(spec|guide|paper|digest)\b/gi;
/** "spec 4.4": a citation that lost its § sign. */
const MISSING_SIGN = /\b(spec|guide)\s+(\d+(?:\.\d+)+)\b/gi;

function defaultDoc(file: string): NoteDoc {
  const f = file.split(path.sep).join('/');
  return f.includes('tfjs-backend-torch/') || f.endsWith('docs/engine-notes.md') ? 'guide' : 'spec';
}

/** The document word in force at `index` of `line` (last one before it), or undefined. */
function docWordBefore(line: string, index: number): string | undefined {
  let word: string | undefined;
  DOC_WORD.lastIndex = 0;
  for (let m = DOC_WORD.exec(line); m !== null && m.index < index; m = DOC_WORD.exec(line)) word = m[1]!.toLowerCase();
  return word;
}

/**
 * Every citation in `text` (the contents of `file`). Ambiguity ids ("A4") count only where a spec
 * citation is in force on the line or in parentheses / after "ambiguity", so that an unrelated "A1"
 * in code (a matrix name, say) is not read as one.
 */
export function findCitations(file: string, text: string): { citations: Citation[]; malformed: Citation[] } {
  const citations: Citation[] = [];
  const malformed: Citation[] = [];
  const fallback = defaultDoc(file);
  text.split('\n').forEach((line, i) => {
    const lineNo = i + 1;
    MISSING_SIGN.lastIndex = 0;
    for (let m = MISSING_SIGN.exec(line); m !== null; m = MISSING_SIGN.exec(line)) {
      malformed.push({ file, line: lineNo, doc: m[1]!.toLowerCase() as NoteDoc, id: m[2]!, text: m[0] });
    }
    REF.lastIndex = 0;
    for (let m = REF.exec(line); m !== null; m = REF.exec(line)) {
      const word = docWordBefore(line, m.index);
      if (word === 'paper') continue;
      const doc: NoteDoc = word === 'guide' ? 'guide' : word === 'spec' || word === 'digest' ? 'spec' : fallback;
      const g = m.groups!;
      if (g['signedAmbiguity'] !== undefined) {
        citations.push({ file, line: lineNo, doc: 'spec', id: `A${Number(g['signedAmbiguity'])}`, text: m[0] });
        continue;
      }
      if (g['ambiguity'] !== undefined) {
        // Ambiguity ids belong to the spec's register; only where the context says so.
        const before = line.slice(Math.max(0, m.index - 12), m.index);
        const inContext = word === 'spec' || /[(/,;]\s*$|ambiguity\s+$|§[\d.a-z]+\s+$/i.test(before);
        if (!inContext || doc !== 'spec') continue;
        citations.push({ file, line: lineNo, doc: 'spec', id: `A${Number(g['ambiguity'])}`, text: m[0] });
        continue;
      }
      citations.push({ file, line: lineNo, doc, id: g['section']!, text: m[0] });
      if (g['rangeEnd'] !== undefined) citations.push({ file, line: lineNo, doc, id: g['rangeEnd'], text: m[0] });
    }
  });
  return { citations, malformed };
}

/**
 * Section ids carried by the markdown headings of a notes file: "## §5.3 AutoAttack" gives '5.3',
 * "### A19 Fooling rate" 'A19', "#### 1.6.3 Identity" '1.6.3', "## 5. Attacks" '5'.
 */
export function headingIds(markdown: string): Set<string> {
  const ids = new Set<string>();
  for (const line of markdown.split('\n')) {
    const m = /^#{1,6}\s+(?:§\s?)?(A\d{1,2}|\d+(?:\.\d+)*[a-z]?)\.?(?=\s|$)/.exec(line);
    if (m) ids.add(m[1]!);
  }
  return ids;
}

/** Files the check scans, relative to the repository root. */
export function citingFiles(root: string): string[] {
  const exts = new Set(['.ts', '.mts', '.js', '.mjs', '.cc', '.h', '.py', '.sh', '.md']);
  const skip = new Set(['node_modules', 'dist', 'build', 'build-cuda', '.gpu']);
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (skip.has(entry.name) || entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (exts.has(path.extname(entry.name))) out.push(path.relative(root, full));
    }
  };
  for (const pkg of fs.readdirSync(path.join(root, 'packages'))) {
    for (const sub of ['src', 'native', 'test', 'bench', 'scripts']) walk(path.join(root, 'packages', pkg, sub));
    const readme = path.join(root, 'packages', pkg, 'README.md');
    if (fs.existsSync(readme)) out.push(path.relative(root, readme));
  }
  walk(path.join(root, 'scripts'));
  walk(path.join(root, 'docs'));
  for (const f of ['README.md', 'bootstrap.sh']) if (fs.existsSync(path.join(root, f))) out.push(f);
  // The checker and its own test hold deliberately unresolved citations.
  return out.filter((f) => !f.split(path.sep).join('/').startsWith('packages/jatp/test/docs/')).sort();
}

export const NOTES: Readonly<Record<NoteDoc, string>> = { spec: 'docs/paper-notes.md', guide: 'docs/engine-notes.md' };

/** One line per citation that has no heading: "file:line: 'spec §9.9' -> docs/paper-notes.md has no heading §9.9". */
export function unresolved(citations: readonly Citation[], headings: Readonly<Record<NoteDoc, ReadonlySet<string>>>): string[] {
  return citations
    .filter((c) => !headings[c.doc].has(c.id))
    .map((c) => `${c.file}:${c.line}: '${c.text}' -> ${NOTES[c.doc]} has no heading ${c.id.startsWith('A') ? c.id : `§${c.id}`}`);
}
