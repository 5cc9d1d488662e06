/** The shape of one language's page texts (texts.ts assembles them). */
import type { OutcomeCode } from '../../outcomes.js'

export interface PageText {
  readonly title: string
  readonly body: string
}

/** Everything a page shows in one language. */
export interface PageTexts {
  readonly pages: Readonly<Record<OutcomeCode, PageText>>
  /** Label of the page's next-step button, where it is not the default. */
  readonly next: Readonly<Partial<Record<OutcomeCode, string>>>
  /** The default next-step label. */
  readonly tryAgain: string
  /** Label in front of the request id. */
  readonly requestId: string
  /** The account a page is about (Access denied), `{account}` standing for its name or email. */
  readonly signedInAs: string
}

