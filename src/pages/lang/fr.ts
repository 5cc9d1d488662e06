/** French. */
import type { PageTexts } from './types.js'

export const FR: PageTexts = {
  pages: {
    ACCESS_DENIED: {
      title: 'Accès refusé',
      body: 'Votre connexion a réussi, mais votre compte n’est pas autorisé à utiliser ce service de visioconférence. Si vous pensez qu’il s’agit d’une erreur, demandez l’accès à votre administrateur.',
    },
    LOGIN_STATE_INVALID: {
      title: 'Connexion expirée',
      body: 'La connexion n’a pas pu aboutir dans ce navigateur : elle a pris trop de temps, elle a déjà été utilisée, ou ce navigateur ne conserve pas les cookies de ce site. Veuillez réessayer ; si cela se reproduit, autorisez les cookies pour ce site.',
    },
    LOGIN_FAILED: {
      title: 'Échec de la connexion',
      body: 'Nous n’avons pas pu finaliser votre connexion. Veuillez réessayer.',
    },
    IDP_REFUSED: {
      title: 'Connexion annulée',
      body: 'La connexion a été annulée ou refusée auprès de votre fournisseur d’identité.',
    },
    IDP_ERROR: {
      title: 'Le fournisseur d’identité a signalé une erreur',
      body: 'Votre fournisseur d’identité n’a pas pu finaliser la connexion. Veuillez réessayer dans un instant ; si le problème persiste, contactez votre administrateur.',
    },
    IDP_MISCONFIGURED: {
      title: 'La connexion n’est pas correctement configurée',
      body: 'Le fournisseur d’identité et ce service ne s’accordent pas sur la manière de sécuriser les connexions. Veuillez contacter votre administrateur en lui indiquant l’ID de requête ci-dessous.',
    },
    IDP_UNAVAILABLE: {
      title: 'Connexion indisponible',
      body: 'Le fournisseur d’identité est injoignable pour le moment. Veuillez réessayer dans un instant.',
    },
    IDP_TIMEOUT: {
      title: 'La connexion prend trop de temps',
      body: 'Le fournisseur d’identité n’a pas répondu à temps. Veuillez réessayer dans un instant.',
    },
    UPSTREAM_UNAVAILABLE: {
      title: 'Le service de réunion est indisponible',
      body: 'Le service de visioconférence ne répond pas pour le moment. Veuillez réessayer dans un instant.',
    },
    LOGOUT_REFUSED: {
      title: 'Déconnexion refusée',
      body: 'Cette demande de déconnexion ne provient pas de ce site, elle a donc été ignorée. Utilisez plutôt le bouton de déconnexion de ce site.',
    },
    BAD_REQUEST: {
      title: 'Requête invalide',
      body: 'Cette adresse n’est pas un lien de réunion valide.',
    },
    URL_TOO_LONG: {
      title: 'Lien trop long',
      body: 'Ce lien de réunion est trop long pour permettre la connexion. Veuillez utiliser un lien plus court.',
    },
    FORBIDDEN: {
      title: 'Interdit',
      body: 'Cette adresse ne répond qu’au proxy de ce site.',
    },
    NOT_FOUND: {
      title: 'Introuvable',
      body: 'Il n’y a rien à cette adresse.',
    },
    METHOD_NOT_ALLOWED: {
      title: 'Non autorisé',
      body: 'Cette adresse n’accepte pas ce type de requête.',
    },
    INTERNAL: {
      title: 'Un problème est survenu',
      body: 'Une erreur inattendue s’est produite. Veuillez réessayer ; si le problème persiste, contactez votre administrateur.',
    },
    SIGNED_OUT: {
      title: 'Déconnexion effectuée',
      body: 'Votre session sur le service de visioconférence a été fermée.',
    },
    LOGOUT_CONFIRM: {
      title: 'Se déconnecter ?',
      body: 'Voulez-vous vous déconnecter du service de visioconférence dans ce navigateur ? Votre fournisseur d’identité peut vous demander de confirmer une nouvelle fois.',
    },
    OPEN_APP: {
      title: 'Continuer dans l’application Jitsi Meet',
      body: 'Votre connexion a réussi. Ouvrez la réunion dans l’application de bureau Jitsi Meet pour continuer.',
    },
  },
  next: {
    ACCESS_DENIED: 'Se connecter avec un autre compte',
    SIGNED_OUT: 'Se reconnecter',
    LOGOUT_CONFIRM: 'Se déconnecter',
    OPEN_APP: 'Ouvrir l’application Jitsi Meet',
  },
  tryAgain: 'Réessayer',
  signedInAs: 'Connecté en tant que {account}.',
  requestId: 'ID de requête',
}
