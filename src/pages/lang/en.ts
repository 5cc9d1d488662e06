/** English: the default language. */
import type { PageTexts } from './types.js'

export const EN: PageTexts = {
  pages: {
    ACCESS_DENIED: {
      title: 'Access denied',
      body: 'You are signed in, but your account is not allowed to use this video conference service. If you think this is wrong, ask your administrator for access.',
    },
    LOGIN_STATE_INVALID: {
      title: 'Sign-in expired',
      body: 'This sign-in could not be completed in this browser: it took too long, was already used, or this browser does not keep cookies for this site. Please try again; if it happens again, allow cookies for this site.',
    },
    LOGIN_FAILED: {
      title: 'Sign-in failed',
      body: 'We could not complete your sign-in. Please try again.',
    },
    IDP_REFUSED: {
      title: 'Sign-in cancelled',
      body: 'The sign-in was cancelled or refused at your identity provider.',
    },
    IDP_ERROR: {
      title: 'The identity provider reported an error',
      body: 'Your identity provider could not complete the sign-in. Please try again in a moment; if it keeps happening, tell your administrator.',
    },
    IDP_MISCONFIGURED: {
      title: 'Sign-in is not set up correctly',
      body: 'The identity provider and this service disagree about how sign-ins are secured. Please tell your administrator and quote the request id below.',
    },
    IDP_UNAVAILABLE: {
      title: 'Sign-in is unavailable',
      body: 'The identity provider cannot be reached right now. Please try again in a moment.',
    },
    IDP_TIMEOUT: {
      title: 'Sign-in is taking too long',
      body: 'The identity provider did not answer in time. Please try again in a moment.',
    },
    UPSTREAM_UNAVAILABLE: {
      title: 'The meeting service is unavailable',
      body: 'The video conference service is not answering right now. Please try again in a moment.',
    },
    LOGOUT_REFUSED: {
      title: 'Sign-out refused',
      body: 'This sign-out request did not come from this site, so it was ignored. Use the sign-out button on this site instead.',
    },
    BAD_REQUEST: {
      title: 'Bad request',
      body: 'This address is not a valid meeting link.',
    },
    URL_TOO_LONG: {
      title: 'Link too long',
      body: 'This meeting link is too long to sign in with. Please use a shorter link.',
    },
    FORBIDDEN: {
      title: "Forbidden",
      body: "This address answers only this site's own proxy.",
    },
    NOT_FOUND: {
      title: 'Not found',
      body: 'There is nothing at this address.',
    },
    METHOD_NOT_ALLOWED: {
      title: 'Not allowed',
      body: 'This address does not accept that kind of request.',
    },
    INTERNAL: {
      title: 'Something went wrong',
      body: 'An unexpected error occurred. Please try again; if it keeps happening, tell your administrator.',
    },
    SIGNED_OUT: {
      title: 'Signed out',
      body: 'You have been signed out of the video conference service.',
    },
    LOGOUT_CONFIRM: {
      title: 'Sign out?',
      body: 'Sign out of the video conference service on this browser? Your identity provider may ask you to confirm once more.',
    },
    OPEN_APP: {
      title: 'Continue in the Jitsi Meet app',
      body: 'You are signed in. Open the meeting in the Jitsi Meet desktop app to continue.',
    },
  },
  next: {
    ACCESS_DENIED: 'Sign in with another account',
    SIGNED_OUT: 'Sign in again',
    LOGOUT_CONFIRM: 'Sign out',
    OPEN_APP: 'Open the Jitsi Meet app',
  },
  tryAgain: 'Try again',
  signedInAs: 'Signed in as {account}.',
  requestId: 'Request id',
}
