/**
 * The portal's words, in French and English, and how a page picks its language: the `lang`
 * cookie (set by the switch on every page), then Accept-Language, then French.
 *
 * Invariant: both catalogues have exactly the same keys, none empty (the French one is typed
 * against the English one, and test/web/i18n.test.ts checks at run time as well). Messages are
 * plain text: `{name}` placeholders are filled with text that JSX escapes later.
 */
export const LANGS = ['fr', 'en'] as const;
export type Lang = (typeof LANGS)[number];
export const DEFAULT_LANG: Lang = 'fr';
export const LANG_COOKIE = 'lang';

const en = {
  'lang.name': 'English',
  'lang.switch': 'Lire en français',
  'nav.skip': 'Skip to main content',
  'nav.home': 'Privacy portal home',
  'nav.signOut': 'Sign out',
  'footer.policy': 'Privacy policy',
  'footer.contact': 'Contact',
  'footer.accessibility': 'Accessibility: partially compliant',
  'portal.title': 'Your privacy',
  'signIn.heading': 'Manage your privacy choices',
  'signIn.intro': 'Enter your email address. We will send you a 6-digit code, valid for 15 minutes, to sign in. No password is needed.',
  'signIn.email': 'Email address',
  'signIn.emailHint': 'For example: name@example.com',
  'signIn.submit': 'Send me a code',
  'signIn.errEmail': 'Enter a valid email address, for example name@example.com.',
  'code.heading': 'Enter the code we sent you',
  'code.intro': 'If this address can receive email, a message with a 6-digit code is on its way. The code is valid for 15 minutes. Check your spam folder if it does not arrive.',
  'code.label': '6-digit code',
  'code.hint': 'Digits only. You can paste the code.',
  'code.submit': 'Sign in',
  'code.errFormat': 'The code has 6 digits, for example 123456.',
  'code.errWrong': 'This code is not right. Attempts left: {n}.',
  'code.errLocked': 'Too many wrong codes: this code no longer works. Ask for a new code.',
  'code.errExpired': 'This code has expired or was already used. Ask for a new code.',
  'code.resend': 'Send me a new code',
  'code.resendWait': 'You can ask for a new code in {s} seconds.',
  'code.resent': 'A new code is on its way. The previous one no longer works.',
  'code.otherEmail': 'Use another email address',
  'limit.tooMany': 'Too many attempts. Please try again in {min} minutes.',
  'mail.failed': 'We could not send the email right now. Please try again in a few minutes.',
  'csrf.refused': 'This form has expired or did not come from this site. Please try again.',
  'session.ended': 'Your session has ended. Please sign in again.',
  'session.signedOut': 'You are signed out.',
  'consents.heading': 'Your consent choices',
  'consents.intro': 'You can change each choice at any time. Refusing is as easy as accepting, and changes nothing else.',
  'consents.version': 'Text version {v}',
  'consents.state.granted': 'Your current choice: accepted on {date}.',
  'consents.state.refused': 'Your current choice: refused on {date}.',
  'consents.state.withdrawn': 'Your current choice: withdrawn on {date}.',
  'consents.state.expired': 'Your consent expired on {date}: it no longer counts.',
  'consents.state.unknown': 'You have not made a choice yet: nothing is done without your consent.',
  'consents.refuse': 'Refuse',
  'consents.withdraw': 'Withdraw my consent',
  'consents.accept': 'Accept',
  'consents.choiceFor': 'Your choice for: {title}',
  'consents.saved': 'Your choice for “{title}” was saved.',
  'consents.gpcOn': 'Your browser sends the Global Privacy Control signal. We honour it: for the purposes marked with it below, an acceptance is recorded as a refusal while the signal is on.',
  'consents.gpcApplies': 'Global Privacy Control applies to this purpose.',
  'consents.gpcApplied': 'Your browser’s Global Privacy Control signal turned this choice into a refusal.',
  'consents.receipt': 'Download the signed receipt of this choice',
  'consents.none': 'There is no purpose to consent to yet.',
  'consents.errPurpose': 'This purpose no longer exists. Reload the page.',
  'consents.errGone': 'Your data was erased: there is nothing to manage any more. Sign in again to start afresh.',
  'a11y.heading': 'Accessibility statement',
  'a11y.commitment': '{company} is committed to making its privacy portal accessible, in accordance with article 47 of French law no. 2005-102 of 11 February 2005.',
  'a11y.status': 'Compliance status: partially compliant with the RGAA 4.1 (the French standard matching WCAG 2.1 level AA). No full audit by an independent body has been carried out yet.',
  'a11y.tested': 'What we check: keyboard-only use, visible focus, labels and error messages tied to each field, colour contrast, text zoom up to 200 % and screens 360 pixels wide.',
  'a11y.feedback': 'If you cannot use part of this portal, contact us and we will give you the information or the service another way.',
  'a11y.contact': 'Contact us',
  'a11y.remedy': 'If our answer does not satisfy you, you may refer the matter to the Défenseur des droits.',
  'error.heading': 'Something went wrong',
  'error.notFound': 'This page does not exist.',
  'error.generic': 'Please try again in a moment.',
  'error.back': 'Back to the privacy portal',
  'mail.subject': '{code} is your {company} sign-in code',
  'mail.greeting': 'Hello,',
  'mail.body': 'Here is your code to sign in to the {company} privacy portal:',
  'mail.validity': 'It is valid for 15 minutes. Never share it: {company} will never ask you for it.',
  'mail.ignore': 'If you did not ask for it, ignore this email: nothing will change.',
  'mailbox.heading': 'Demo mailbox',
  'mailbox.intro': 'The emails oubli sent while running as a demo (stored in the data directory, shown here in demo mode only).',
  'mailbox.empty': 'No email yet.',
  'mailbox.back': 'All emails',
} as const;

export type MessageKey = keyof typeof en;

const fr: Record<MessageKey, string> = {
  'lang.name': 'Français',
  'lang.switch': 'Read in English',
  'nav.skip': 'Aller au contenu principal',
  'nav.home': 'Accueil de l’espace vie privée',
  'nav.signOut': 'Se déconnecter',
  'footer.policy': 'Politique de confidentialité',
  'footer.contact': 'Contact',
  'footer.accessibility': 'Accessibilité : partiellement conforme',
  'portal.title': 'Vos données personnelles',
  'signIn.heading': 'Gérer vos choix de confidentialité',
  'signIn.intro': 'Saisissez votre adresse e-mail. Nous vous enverrons un code à 6 chiffres, valable 15 minutes, pour vous connecter. Aucun mot de passe n’est nécessaire.',
  'signIn.email': 'Adresse e-mail',
  'signIn.emailHint': 'Par exemple : nom@exemple.fr',
  'signIn.submit': 'Recevoir un code',
  'signIn.errEmail': 'Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.',
  'code.heading': 'Saisissez le code reçu',
  'code.intro': 'Si cette adresse peut recevoir des e-mails, un message avec un code à 6 chiffres est en route. Le code est valable 15 minutes. Pensez à vérifier vos indésirables.',
  'code.label': 'Code à 6 chiffres',
  'code.hint': 'Chiffres uniquement. Vous pouvez coller le code.',
  'code.submit': 'Se connecter',
  'code.errFormat': 'Le code comporte 6 chiffres, par exemple 123456.',
  'code.errWrong': 'Ce code n’est pas le bon. Essais restants : {n}.',
  'code.errLocked': 'Trop de codes erronés : ce code ne fonctionne plus. Demandez un nouveau code.',
  'code.errExpired': 'Ce code a expiré ou a déjà servi. Demandez un nouveau code.',
  'code.resend': 'Recevoir un nouveau code',
  'code.resendWait': 'Vous pourrez demander un nouveau code dans {s} secondes.',
  'code.resent': 'Un nouveau code est en route. Le précédent ne fonctionne plus.',
  'code.otherEmail': 'Utiliser une autre adresse e-mail',
  'limit.tooMany': 'Trop de tentatives. Veuillez réessayer dans {min} minutes.',
  'mail.failed': 'Nous n’avons pas pu envoyer l’e-mail pour le moment. Veuillez réessayer dans quelques minutes.',
  'csrf.refused': 'Ce formulaire a expiré ou ne provient pas de ce site. Veuillez réessayer.',
  'session.ended': 'Votre session a pris fin. Veuillez vous reconnecter.',
  'session.signedOut': 'Vous êtes déconnecté.',
  'consents.heading': 'Vos choix de consentement',
  'consents.intro': 'Vous pouvez modifier chaque choix à tout moment. Refuser est aussi simple qu’accepter, et ne change rien d’autre.',
  'consents.version': 'Version du texte : {v}',
  'consents.state.granted': 'Votre choix actuel : accepté le {date}.',
  'consents.state.refused': 'Votre choix actuel : refusé le {date}.',
  'consents.state.withdrawn': 'Votre choix actuel : retiré le {date}.',
  'consents.state.expired': 'Votre consentement a expiré le {date} : il ne compte plus.',
  'consents.state.unknown': 'Vous n’avez pas encore fait de choix : rien n’est fait sans votre consentement.',
  'consents.refuse': 'Refuser',
  'consents.withdraw': 'Retirer mon consentement',
  'consents.accept': 'Accepter',
  'consents.choiceFor': 'Votre choix pour : {title}',
  'consents.saved': 'Votre choix pour « {title} » est enregistré.',
  'consents.gpcOn': 'Votre navigateur envoie le signal Global Privacy Control. Nous le respectons : pour les finalités signalées ci-dessous, une acceptation est enregistrée comme un refus tant que le signal est actif.',
  'consents.gpcApplies': 'Le signal Global Privacy Control s’applique à cette finalité.',
  'consents.gpcApplied': 'Le signal Global Privacy Control de votre navigateur a transformé ce choix en refus.',
  'consents.receipt': 'Télécharger le reçu signé de ce choix',
  'consents.none': 'Aucune finalité ne requiert encore votre consentement.',
  'consents.errPurpose': 'Cette finalité n’existe plus. Rechargez la page.',
  'consents.errGone': 'Vos données ont été effacées : il n’y a plus rien à gérer. Reconnectez-vous pour repartir de zéro.',
  'a11y.heading': 'Déclaration d’accessibilité',
  'a11y.commitment': '{company} s’engage à rendre son espace vie privée accessible, conformément à l’article 47 de la loi n° 2005-102 du 11 février 2005.',
  'a11y.status': 'État de conformité : partiellement conforme au RGAA 4.1 (le référentiel français correspondant aux WCAG 2.1 niveau AA). Aucun audit complet par un organisme indépendant n’a encore été réalisé.',
  'a11y.tested': 'Ce que nous vérifions : l’usage au clavier seul, la visibilité du focus, les étiquettes et messages d’erreur liés à chaque champ, le contraste des couleurs, le zoom du texte jusqu’à 200 % et les écrans de 360 pixels de large.',
  'a11y.feedback': 'Si vous ne pouvez pas utiliser une partie de cet espace, contactez-nous : nous vous fournirons l’information ou le service autrement.',
  'a11y.contact': 'Nous contacter',
  'a11y.remedy': 'Si notre réponse ne vous satisfait pas, vous pouvez saisir le Défenseur des droits.',
  'error.heading': 'Une erreur est survenue',
  'error.notFound': 'Cette page n’existe pas.',
  'error.generic': 'Veuillez réessayer dans un instant.',
  'error.back': 'Retour à l’espace vie privée',
  'mail.subject': '{code} est votre code de connexion {company}',
  'mail.greeting': 'Bonjour,',
  'mail.body': 'Voici votre code pour vous connecter à l’espace vie privée de {company} :',
  'mail.validity': 'Il est valable 15 minutes. Ne le communiquez jamais : {company} ne vous le demandera jamais.',
  'mail.ignore': 'Si vous ne l’avez pas demandé, ignorez cet e-mail : rien ne changera.',
  'mailbox.heading': 'Boîte aux lettres de démonstration',
  'mailbox.intro': 'Les e-mails envoyés par oubli en mode démonstration (stockés dans le répertoire de données, affichés ici en démonstration uniquement).',
  'mailbox.empty': 'Aucun e-mail pour l’instant.',
  'mailbox.back': 'Tous les e-mails',
};

export const CATALOGUES: Record<Lang, Record<MessageKey, string>> = { en, fr };

/** A translator for one language: `t('code.errWrong', { n: 3 })`. */
export type T = (key: MessageKey, params?: Record<string, string | number>) => string;

export function translator(lang: Lang): T {
  const cat = CATALOGUES[lang];
  return (key, params) => {
    const msg = cat[key];
    if (!params) return msg;
    return msg.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
  };
}

export const isLang = (v: unknown): v is Lang => typeof v === 'string' && (LANGS as readonly string[]).includes(v);

/** The cookie's language, else the best of Accept-Language (by q, then order), else French. */
export function pickLang(cookie: string | undefined, acceptLanguage: string | undefined): Lang {
  if (isLang(cookie)) return cookie;
  if (acceptLanguage) {
    const ranked = acceptLanguage
      .slice(0, 1000)
      .split(',')
      .map((part, i) => {
        const [tag = '', ...params] = part.trim().split(';');
        const q = params.map((x) => /^\s*q=([\d.]+)\s*$/.exec(x)?.[1]).find(Boolean);
        return { base: tag.trim().toLowerCase().split('-')[0]!, q: q === undefined ? 1 : Number(q), i };
      })
      .filter((x) => x.q > 0 && isLang(x.base))
      .sort((a, b) => b.q - a.q || a.i - b.i);
    if (ranked[0]) return ranked[0].base as Lang;
  }
  return DEFAULT_LANG;
}
