/**
 * Times in the console and in its exports are shown in Moscow time and say so: the service serves
 * regions from Kaliningrad to Kamchatka, and Moscow time is the reference Russian institutions
 * quote. Period filters use the same zone, so «с 01.03 по 01.03» means that Moscow day.
 */
export const DISPLAY_TIME_ZONE = 'Europe/Moscow'

const dateTime = new Intl.DateTimeFormat('ru-RU', {
  timeZone: DISPLAY_TIME_ZONE,
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
})

/** «05.03.2025, 14:07:33 МСК» */
export const formatMoscowTime = (d: Date): string => `${dateTime.format(d)} МСК`
