/**
 * The import never drops a setting silently: every statement of the source files gets at least
 * one mark — translated (to which hafw key), a note (translated with a change, or dropped because
 * hafwd does it itself), or attention (not translated, or changed in a way the operator must
 * review). Whatever the translators did not mark is reported as attention at the end (`finish`),
 * so a keyword nobody thought of still shows up with its file:line.
 */
import { allStatements, stmtText, type ConfStmt } from './conf-parse.js'

export type MarkKind = 'translated' | 'note' | 'attention'

export interface Mark {
  readonly kind: MarkKind
  /** translated: the hafw key path; note/attention: what happened and what to do. */
  readonly message: string
  /** Covered by the mark of the enclosing block (reported once, on the block's line). */
  readonly viaBlock?: true
}

/** One line of the report (a note or an attention item). */
export interface ReportItem {
  readonly kind: 'note' | 'attention'
  readonly file: string
  /** 0 when the item is about a setting absent from the file (a default that differs). */
  readonly line: number
  /** The source statement, shortened. */
  readonly setting: string
  readonly message: string
}

/** What became of one source statement (the counting test reads these). */
export interface StatementOutcome {
  readonly file: string
  readonly line: number
  readonly setting: string
  readonly marks: readonly Mark[]
}

export class Ledger {
  private readonly marks = new Map<ConfStmt, Mark[]>()
  /** Items not tied to one statement (a default that differs, a whole-file remark). */
  private readonly loose: ReportItem[] = []

  private add (stmt: ConfStmt, mark: Mark): void {
    const list = this.marks.get(stmt)
    if (list === undefined) this.marks.set(stmt, [mark])
    else list.push(mark)
  }

  translated (stmt: ConfStmt, target: string): void {
    this.add(stmt, { kind: 'translated', message: target })
  }

  note (stmt: ConfStmt, message: string): void {
    this.add(stmt, { kind: 'note', message })
  }

  attention (stmt: ConfStmt, message: string): void {
    this.add(stmt, { kind: 'attention', message })
  }

  /** Mark a statement and everything inside its block with the same note or attention. */
  wholeBlock (stmt: ConfStmt, kind: 'note' | 'attention', message: string): void {
    const inside = allStatements(stmt.children ?? [])
    const last = inside[inside.length - 1]
    this.add(stmt, { kind, message: last === undefined ? message : `${message} (the whole block, through line ${last.line})` })
    for (const s of inside) this.add(s, { kind, message: `inside ${stmt.words[0] ?? ''} at line ${stmt.line}: ${message}`, viaBlock: true })
  }

  fileNote (file: string, kind: 'note' | 'attention', setting: string, message: string): void {
    this.loose.push({ kind, file, line: 0, setting, message })
  }

  has (stmt: ConfStmt): boolean {
    return this.marks.has(stmt)
  }

  /**
   * Close the books over the given trees: unmarked statements become attention items. Returns
   * every statement's outcome and the report items (notes and attention), in file order.
   */
  finish (trees: ReadonlyArray<readonly ConfStmt[]>): { outcomes: StatementOutcome[], items: ReportItem[] } {
    const outcomes: StatementOutcome[] = []
    const items: ReportItem[] = [...this.loose]
    for (const tree of trees) {
      for (const s of allStatements(tree)) {
        if (!this.marks.has(s)) this.attention(s, 'not translated: hafw has no equivalent for this keyword')
        const marks = this.marks.get(s) as Mark[]
        const setting = stmtText(s)
        outcomes.push({ file: s.file, line: s.line, setting, marks })
        for (const m of marks) {
          if (m.kind !== 'translated' && m.viaBlock !== true) items.push({ kind: m.kind, file: s.file, line: s.line, setting, message: m.message })
        }
      }
    }
    return { outcomes, items }
  }
}
