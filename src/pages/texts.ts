/**
 * What the pages say, per language: one title and body per outcome code
 * (the compiler checks that none is missing), the next-step labels, the
 * request-id label and the signed-in account line. One file per language in
 * lang/; the first language is the default.
 */
import type { PageTexts } from './lang/types.js'
import { DE } from './lang/de.js'
import { EN } from './lang/en.js'
import { ES } from './lang/es.js'
import { FR } from './lang/fr.js'
import { IT } from './lang/it.js'
import { NL } from './lang/nl.js'
import { PL } from './lang/pl.js'
import { PT } from './lang/pt.js'

/** Languages the pages are written in (Jitsi's largest user bases); the first is the default. */
export const LANGUAGES = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt', 'pl'] as const
export type Language = (typeof LANGUAGES)[number]
export const DEFAULT_LANGUAGE: Language = 'en'

/** The page texts per language. */
export const TEXTS: Readonly<Record<Language, PageTexts>> = Object.freeze({ en: EN, de: DE, fr: FR, es: ES, it: IT, nl: NL, pt: PT, pl: PL })
