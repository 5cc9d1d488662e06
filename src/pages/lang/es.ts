/** Spanish. */
import type { PageTexts } from './types.js'

export const ES: PageTexts = {
  pages: {
    ACCESS_DENIED: {
      title: 'Acceso denegado',
      body: 'Ha iniciado sesión, pero su cuenta no tiene permiso para usar este servicio de videoconferencia. Si cree que se trata de un error, pida acceso a su administrador.',
    },
    LOGIN_STATE_INVALID: {
      title: 'Inicio de sesión caducado',
      body: 'No se pudo completar el inicio de sesión en este navegador: tardó demasiado, ya se había utilizado o este navegador no guarda cookies para este sitio. Vuelva a intentarlo; si vuelve a ocurrir, permita las cookies para este sitio.',
    },
    LOGIN_FAILED: {
      title: 'Error al iniciar sesión',
      body: 'No hemos podido completar su inicio de sesión. Vuelva a intentarlo.',
    },
    IDP_REFUSED: {
      title: 'Inicio de sesión cancelado',
      body: 'El inicio de sesión se canceló o se rechazó en su proveedor de identidad.',
    },
    IDP_ERROR: {
      title: 'El proveedor de identidad devolvió un error',
      body: 'Su proveedor de identidad no pudo completar el inicio de sesión. Vuelva a intentarlo en un momento; si el problema continúa, avise a su administrador.',
    },
    IDP_MISCONFIGURED: {
      title: 'El inicio de sesión no está bien configurado',
      body: 'El proveedor de identidad y este servicio no coinciden en cómo se protegen los inicios de sesión. Avise a su administrador e indíquele el ID de solicitud que aparece abajo.',
    },
    IDP_UNAVAILABLE: {
      title: 'Inicio de sesión no disponible',
      body: 'No se puede contactar con el proveedor de identidad en este momento. Vuelva a intentarlo en un momento.',
    },
    IDP_TIMEOUT: {
      title: 'El inicio de sesión está tardando demasiado',
      body: 'El proveedor de identidad no respondió a tiempo. Vuelva a intentarlo en un momento.',
    },
    UPSTREAM_UNAVAILABLE: {
      title: 'El servicio de reuniones no está disponible',
      body: 'El servicio de videoconferencia no responde en este momento. Vuelva a intentarlo en un momento.',
    },
    LOGOUT_REFUSED: {
      title: 'Cierre de sesión rechazado',
      body: 'Esta solicitud de cierre de sesión no procedía de este sitio, así que se ha ignorado. Use en su lugar el botón de cerrar sesión de este sitio.',
    },
    BAD_REQUEST: {
      title: 'Solicitud incorrecta',
      body: 'Esta dirección no es un enlace de reunión válido.',
    },
    URL_TOO_LONG: {
      title: 'Enlace demasiado largo',
      body: 'Este enlace de reunión es demasiado largo para iniciar sesión con él. Use un enlace más corto.',
    },
    FORBIDDEN: {
      title: 'Prohibido',
      body: 'Esta dirección solo responde al proxy propio de este sitio.',
    },
    NOT_FOUND: {
      title: 'No encontrado',
      body: 'No hay nada en esta dirección.',
    },
    METHOD_NOT_ALLOWED: {
      title: 'No permitido',
      body: 'Esta dirección no acepta ese tipo de solicitud.',
    },
    INTERNAL: {
      title: 'Algo salió mal',
      body: 'Se produjo un error inesperado. Vuelva a intentarlo; si el problema continúa, avise a su administrador.',
    },
    SIGNED_OUT: {
      title: 'Sesión cerrada',
      body: 'Se ha cerrado su sesión en el servicio de videoconferencia.',
    },
    LOGOUT_CONFIRM: {
      title: '¿Cerrar sesión?',
      body: '¿Desea cerrar sesión en el servicio de videoconferencia en este navegador? Es posible que su proveedor de identidad le pida que lo confirme de nuevo.',
    },
    OPEN_APP: {
      title: 'Continuar en la aplicación Jitsi Meet',
      body: 'Ha iniciado sesión. Abra la reunión en la aplicación de escritorio de Jitsi Meet para continuar.',
    },
  },
  next: {
    ACCESS_DENIED: 'Iniciar sesión con otra cuenta',
    SIGNED_OUT: 'Volver a iniciar sesión',
    LOGOUT_CONFIRM: 'Cerrar sesión',
    OPEN_APP: 'Abrir la aplicación Jitsi Meet',
  },
  tryAgain: 'Volver a intentarlo',
  signedInAs: 'Sesión iniciada como {account}.',
  requestId: 'ID de solicitud',
}
